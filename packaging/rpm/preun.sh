# flowalert %preun ($1 is 0 on erase, 1 on upgrade): stops and disables the service and the
# update timer on erase only.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl stop flowalert-update.timer flowalert-update.service flowalert.service || true
    systemctl disable flowalert-update.timer flowalert.service >/dev/null 2>&1 || true
fi
exit 0
