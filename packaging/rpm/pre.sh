# flowalert %pre: creates the flowalert system user and group before the configuration file
# (root:flowalert 0640) is laid down. Both are kept on erase.
if ! getent group flowalert >/dev/null; then
    groupadd --system flowalert
fi
if ! getent passwd flowalert >/dev/null; then
    useradd --system --gid flowalert --home-dir /var/lib/flowalert --no-create-home \
        --shell /usr/sbin/nologin --comment "flowalert daemon" flowalert
fi
exit 0
