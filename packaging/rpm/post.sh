# flowalert %post ($1 is 1 on install, 2 on upgrade): makes the directories the service
# uses, raises net.core.rmem_max for the default receive-buffer, and restarts a running
# service after an upgrade. A fresh install is neither enabled nor started.
RMEM_WANTED=8388608

for spec in /etc/flowalert/lists.d:root /var/lib/flowalert:flowalert \
    /var/log/flowalert:flowalert; do
    dir=${spec%%:*}
    owner=${spec##*:}
    if [ ! -d "$dir" ]; then
        install -d -o "$owner" -g flowalert -m 0750 "$dir"
    fi
done

current=$(sysctl -n net.core.rmem_max 2>/dev/null || echo 0)
if [ "$current" -lt "$RMEM_WANTED" ]; then
    sysctl -q -w net.core.rmem_max="$RMEM_WANTED" >/dev/null 2>&1 ||
        echo "flowalert: net.core.rmem_max stays $current until the next boot" >&2
fi

if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
    if [ "$1" -ge 2 ]; then
        systemctl try-restart flowalert.service || true
    fi
fi
exit 0
