#!/usr/bin/env bash
# Builds the .deb and the .rpm, checks the .rpm's file list and scriptlets, installs the .deb
# on this machine, checks the user, paths, owners, modes, the units and that the installed
# default configuration passes check-config, then removes and purges it and checks what
# stays; then installs and erases the .rpm the same way. Needs root and changes the machine (a flowalert user stays, as after any purge);
# net.core.rmem_max, which postinst raises, is put back at the end.
# Run by .ci/run after the tests; by hand: sudo packaging/test-install.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# The highest `systemd-analyze security` exposure a unit may have.
MAX_EXPOSURE=2.0

fail() {
    echo "test-install: FAIL: $*" >&2
    exit 1
}
step() { echo "== packaging: $*"; }

# expect_mode PATH OWNER:GROUP OCTAL-MODE
expect_mode() {
    [ -e "$1" ] || fail "$1 is missing"
    local got
    got=$(stat -c '%U:%G %a' "$1")
    [ "$got" = "$2 $3" ] || fail "$1 is $got, expected $2 $3"
}
expect_absent() { [ ! -e "$1" ] || fail "$1 should not exist"; }
expect_present() { [ -e "$1" ] || fail "$1 should exist"; }

[ "$(id -u)" = 0 ] || fail "needs root (it installs the package)"
export DEBIAN_FRONTEND=noninteractive

step "tools"
command -v cargo-deb >/dev/null || cargo install --locked cargo-deb
command -v cargo-generate-rpm >/dev/null || cargo install --locked cargo-generate-rpm
missing=()
command -v rpm >/dev/null || missing+=(rpm)
command -v logrotate >/dev/null || missing+=(logrotate)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (package systemd)"

step "build"
deb=$(cargo deb --locked | tail -n 1)
[ -f "$deb" ] || fail "cargo deb did not print a package path (got '$deb')"
cargo generate-rpm -o target/generate-rpm/flowalert.rpm
rpm_file=target/generate-rpm/flowalert.rpm
echo "deb: $deb"
echo "rpm: $rpm_file"

step "rpm contents"
rpm_files=(
    /usr/bin/flowalert
    /etc/flowalert/flowalert.toml
    /etc/logrotate.d/flowalert
    /usr/lib/sysctl.d/60-flowalert.conf
    /usr/lib/systemd/system/flowalert.service
    /usr/lib/systemd/system/flowalert-update.service
    /usr/lib/systemd/system/flowalert-update.timer
    /usr/share/flowalert/systemd/low-port.conf.example
    /usr/share/man/man1/flowalert.1
    /usr/share/man/man5/flowalert.toml.5
    /usr/share/flowalert/wazuh/flowalert_decoders.xml
    /usr/share/flowalert/wazuh/flowalert_rules.xml
    /usr/share/flowalert/ossec/flowalert_decoders.xml
    /usr/share/flowalert/ossec/flowalert_rules.xml
)
listing=$(rpm -qpl "$rpm_file")
for path in "${rpm_files[@]}"; do
    grep -qx "$path" <<<"$listing" || fail "rpm lacks $path"
done
grep -q /etc/flowalert/otx.key <<<"$listing" && fail "rpm must not ship the OTX key file"
modes=$(rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]' \
    "$rpm_file")
grep -qx -- '-rw-r----- root:flowalert /etc/flowalert/flowalert.toml' <<<"$modes" ||
    fail "rpm config mode/owner wrong: $(grep flowalert.toml <<<"$modes")"
grep -qx -- '-rwxr-xr-x root:root /usr/bin/flowalert' <<<"$modes" || fail "rpm binary mode"
configs=$(rpm -qpc "$rpm_file")
grep -qx /etc/flowalert/flowalert.toml <<<"$configs" || fail "rpm: flowalert.toml not %config"
grep -qx /etc/logrotate.d/flowalert <<<"$configs" || fail "rpm: logrotate file not %config"
scripts=$(rpm -qp --scripts "$rpm_file")
for want in 'preinstall scriptlet' 'useradd --system' 'postinstall scriptlet' \
    'install -d -o' 'net.core.rmem_max' 'preuninstall scriptlet' 'systemctl stop' \
    'postuninstall scriptlet'; do
    grep -qF -- "$want" <<<"$scripts" || fail "rpm scriptlets lack '$want'"
done

step "deb install"
# A run that failed half-way may have left either package installed.
if dpkg-query -W -f '${Status}' flowalert 2>/dev/null | grep -q installed; then
    dpkg --purge flowalert >/dev/null
fi
if rpm -q flowalert >/dev/null 2>&1; then
    rpm -e flowalert >/dev/null 2>&1
fi
rmem_before=$(cat /proc/sys/net/core/rmem_max 2>/dev/null || echo "")
restore_rmem() {
    if [ -n "$rmem_before" ]; then
        echo "$rmem_before" >/proc/sys/net/core/rmem_max 2>/dev/null || true
    fi
}
trap restore_rmem EXIT
dpkg -i "$deb"

step "user and paths"
entry=$(getent passwd flowalert) || fail "no flowalert user"
IFS=: read -r _ _ uid gid _ home shell <<<"$entry"
[ "$uid" -lt 1000 ] || fail "flowalert is not a system user (uid $uid)"
[ "$(getent group flowalert | cut -d: -f3)" = "$gid" ] || fail "flowalert's group is not flowalert"
[ "$home" = /var/lib/flowalert ] || fail "flowalert's home is $home"
case "$shell" in /usr/sbin/nologin | /sbin/nologin) ;; *) fail "flowalert's shell is $shell" ;; esac
expect_mode /usr/bin/flowalert root:root 755
expect_mode /etc/flowalert root:root 755
expect_mode /etc/flowalert/flowalert.toml root:flowalert 640
expect_mode /etc/flowalert/lists.d root:flowalert 750
expect_mode /var/lib/flowalert flowalert:flowalert 750
expect_mode /var/log/flowalert flowalert:flowalert 750
expect_mode /etc/logrotate.d/flowalert root:root 644
expect_mode /usr/lib/sysctl.d/60-flowalert.conf root:root 644
expect_mode /usr/lib/systemd/system/flowalert.service root:root 644
# cargo-deb compresses man pages; the rpm keeps them as they are.
expect_mode /usr/share/man/man1/flowalert.1.gz root:root 644
expect_mode /usr/share/man/man5/flowalert.toml.5.gz root:root 644
expect_present /usr/share/flowalert/wazuh/flowalert.ini
expect_absent /etc/flowalert/otx.key
cmp -s /etc/flowalert/flowalert.toml etc/flowalert.toml || fail "installed config differs"
conffiles=$(dpkg-query -W -f '${Conffiles}\n' flowalert)
grep -q ' /etc/flowalert/flowalert.toml ' <<<"$conffiles" || fail "flowalert.toml not a conffile"
grep -q ' /etc/logrotate.d/flowalert ' <<<"$conffiles" || fail "logrotate file not a conffile"
grep -qx 'net.core.rmem_max = 8388608' /usr/lib/sysctl.d/60-flowalert.conf ||
    fail "sysctl.d file does not set net.core.rmem_max = 8388608"
if [ -w /proc/sys/net/core/rmem_max ] && [ "${rmem_before:-0}" -lt 8388608 ]; then
    [ "$(cat /proc/sys/net/core/rmem_max)" -ge 8388608 ] || fail "postinst did not raise rmem_max"
fi

step "service user's access"
as_user() { runuser -u flowalert -- "$@"; }
as_user test -r /etc/flowalert/flowalert.toml || fail "flowalert cannot read its config"
as_user test ! -w /etc/flowalert/flowalert.toml || fail "flowalert can write its config"
for dir in /var/lib/flowalert /var/log/flowalert; do
    as_user touch "$dir/.probe" || fail "flowalert cannot write $dir"
    rm -f "$dir/.probe"
done
check=$(as_user /usr/bin/flowalert --config /etc/flowalert/flowalert.toml check-config 2>&1) ||
    fail "check-config failed on the installed default config: $check"
echo "$check"
grep -q '^configuration ok' <<<"$check" || fail "check-config did not say ok"
for page in man1/flowalert.1.gz man5/flowalert.toml.5.gz; do
    man -l "/usr/share/man/$page" >/dev/null 2>&1 || fail "man cannot read $page"
done
logrotate -d /etc/logrotate.d/flowalert >/tmp/flowalert-logrotate.$$ 2>&1 ||
    fail "logrotate rejects its file: $(cat /tmp/flowalert-logrotate.$$)"
grep -qi 'error' /tmp/flowalert-logrotate.$$ && fail "logrotate: $(cat /tmp/flowalert-logrotate.$$)"
rm -f /tmp/flowalert-logrotate.$$

step "logrotate reopen without systemd: SIGUSR2 through the pidfile"
postrotate=$(sed -n '/^ *postrotate$/,/^ *endscript$/p' /etc/logrotate.d/flowalert | sed '1d;$d')
mark=/tmp/flowalert-usr2.$$
sh -c "trap 'echo reopened >$mark; exit 0' USR2; while :; do sleep 0.1; done" &
fake=$!
made_run=no
[ -d /run/flowalert ] || { mkdir /run/flowalert && made_run=yes; }
echo "$fake" >/run/flowalert/flowalert.pid
sh -c "$postrotate"
for _ in $(seq 50); do [ -s "$mark" ] && break; sleep 0.1; done
kill "$fake" 2>/dev/null || true
wait "$fake" 2>/dev/null || true
rm -f /run/flowalert/flowalert.pid
[ "$made_run" = no ] || rmdir /run/flowalert
[ -s "$mark" ] || fail "postrotate did not send SIGUSR2 to the pidfile's process"
rm -f "$mark"

step "systemd units"
units=(/usr/lib/systemd/system/flowalert.service /usr/lib/systemd/system/flowalert-update.service
    /usr/lib/systemd/system/flowalert-update.timer)
verify=$(systemd-analyze verify "${units[@]}" 2>&1) || fail "systemd-analyze verify: $verify"
# verify exits 0 on some problems; any line naming our units is one.
if grep -i 'flowalert' <<<"$verify"; then
    fail "systemd-analyze verify reported problems with the units"
fi
for unit in systemd/flowalert.service systemd/flowalert-update.service; do
    report=$(systemd-analyze security --offline=true "$unit")
    score=$(sed -n 's/^.*Overall exposure level for [^:]*: \([0-9.]*\) .*$/\1/p' <<<"$report")
    [ -n "$score" ] || fail "no exposure level for $unit in: $report"
    echo "systemd-analyze security --offline=true $unit: $score"
    awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }' ||
        fail "$unit exposure $score is above $MAX_EXPOSURE"
done

step "upgrade keeps an edited config"
echo '# local edit' >>/etc/flowalert/flowalert.toml
dpkg -i "$deb" >/dev/null
tail -n 1 /etc/flowalert/flowalert.toml | grep -qx '# local edit' || fail "reinstall lost the edit"
expect_mode /etc/flowalert/flowalert.toml root:flowalert 640

step "remove keeps config, state and logs"
echo state >/var/lib/flowalert/otx-cache.json
echo alert >/var/log/flowalert/alerts.log
dpkg -r flowalert
expect_absent /usr/bin/flowalert
expect_absent /usr/lib/systemd/system/flowalert.service
expect_present /etc/flowalert/flowalert.toml
expect_present /etc/flowalert/lists.d
expect_present /var/lib/flowalert/otx-cache.json
expect_present /var/log/flowalert/alerts.log

step "purge removes config, state and logs"
dpkg -P flowalert
expect_absent /etc/flowalert
expect_absent /var/lib/flowalert
expect_absent /var/log/flowalert
getent passwd flowalert >/dev/null || fail "purge should keep the flowalert user"
if dpkg-query -W -f '${Status}' flowalert 2>/dev/null | grep -q installed; then
    fail "flowalert still installed after purge"
fi

step "purge keeps lists an operator added"
dpkg -i "$deb" >/dev/null
echo 198.51.100.7 >/etc/flowalert/lists.d/local.txt
dpkg -P flowalert 2>/tmp/flowalert-purge.$$
grep -q '/etc/flowalert/lists.d/local.txt' /tmp/flowalert-purge.$$ ||
    fail "purge did not name the kept file: $(cat /tmp/flowalert-purge.$$)"
rm -f /tmp/flowalert-purge.$$
expect_present /etc/flowalert/lists.d/local.txt
expect_absent /etc/flowalert/flowalert.toml
expect_absent /var/lib/flowalert
rm -r /etc/flowalert

# Debian's rpm has no database of the system's packages, hence --nodeps; the scriptlets run
# as they would on Fedora or RHEL. The user is deleted first so that %pre must create it.
step "rpm install and erase"
userdel flowalert
getent group flowalert >/dev/null && groupdel flowalert
out=$(rpm -i --nodeps "$rpm_file" 2>&1) || fail "rpm -i failed: $out"
getent passwd flowalert >/dev/null || fail "rpm %pre did not create the flowalert user"
expect_mode /usr/bin/flowalert root:root 755
expect_mode /etc/flowalert/flowalert.toml root:flowalert 640
expect_mode /etc/flowalert/lists.d root:flowalert 750
expect_mode /var/lib/flowalert flowalert:flowalert 750
expect_mode /var/log/flowalert flowalert:flowalert 750
as_user /usr/bin/flowalert --config /etc/flowalert/flowalert.toml check-config >/dev/null 2>&1 ||
    fail "check-config failed on the config the rpm installed"
out=$(rpm -e flowalert 2>&1) || fail "rpm -e failed: $out"
rpm -q flowalert >/dev/null 2>&1 && fail "flowalert still installed after rpm -e"
expect_absent /usr/bin/flowalert
expect_absent /etc/flowalert
expect_present /var/lib/flowalert
expect_present /var/log/flowalert
rm -r /var/lib/flowalert /var/log/flowalert

echo "packaging: all checks passed"
