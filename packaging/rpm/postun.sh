# flowalert %postun ($1 is 0 on erase): rpm has no purge, so erase keeps the state
# (/var/lib/flowalert), the logs (/var/log/flowalert) and a changed configuration (saved as
# .rpmsave); remove them by hand when they are no longer wanted. Empty directories go.
if [ "$1" -eq 0 ]; then
    rmdir /etc/flowalert/lists.d /etc/flowalert 2>/dev/null || true
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload || true
    fi
fi
exit 0
