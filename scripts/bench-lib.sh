# Shared by the bench-*.sh scripts (sourced, not run): release binaries, generated data in
# $BENCH_DIR, a service on loopback and its stats line. Nothing here is used by CI.
#
# Every helper is bounded: waits give up after a fixed time, and the EXIT trap stops the
# service this shell started and removes the per-run directory.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/flowalert-bench}
BIN=$ROOT/target/release/flowalert
LOADGEN=$ROOT/target/release/examples/loadgen
LATENCY=$ROOT/target/release/examples/latency
RUN_DIR=
SERVICE_PID=

say() { printf '%s\n' "$*" >&2; }

# Builds the release binary and examples once (cargo does nothing when they are current).
build_release() {
    (cd "$ROOT" && cargo build --release --bin flowalert --example loadgen --example latency) >&2
}

# A fresh directory for this run, removed at exit with whatever service it holds.
make_run_dir() {
    mkdir -p "$BENCH_DIR"
    RUN_DIR=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
    mkdir -p "$RUN_DIR/state"
    trap cleanup EXIT
}

cleanup() {
    stop_service
    if [ -n "$RUN_DIR" ]; then rm -rf "$RUN_DIR"; fi
}

# $BENCH_DIR/list-1m.txt: 1 M random IPv4 prefixes, 50 k IPv6, and 203.0.113.0/24 (the
# address loadgen and latency mark as listed). Kept between runs: the same seed each time.
ensure_list() {
    local list=$BENCH_DIR/list-1m.txt
    if [ ! -s "$list" ]; then
        "$LOADGEN" list --out "$list.tmp" --prefixes 1000000 --ipv6 50000 >&2
        echo "203.0.113.0/24" >> "$list.tmp"
        mv "$list.tmp" "$list"
    fi
    echo "$list"
}

# $BENCH_DIR/capture-10m.pcap: 10 M v5 records in 333 334 datagrams from 4 exporters.
ensure_capture() {
    local pcap=$BENCH_DIR/capture-10m.pcap
    if [ ! -s "$pcap" ]; then
        "$LOADGEN" pcap --out "$pcap.tmp" --records 10000000 >&2
        mv "$pcap.tmp" "$pcap"
    fi
    echo "$pcap"
}

# write_config PATH PORT LIST [SYSLOG_URL]: a service config on 127.0.0.1:PORT with no
# record cap and no peer folding, so every hit is a record and none is hidden.
write_config() {
    local path=$1 port=$2 list=$3 syslog=${4:-}
    local targets="[]"
    if [ -n "$syslog" ]; then targets="[\"$syslog\"]"; fi
    cat > "$path" <<CONF
[input]
listen = ["127.0.0.1:$port"]
workers = ${WORKERS:-1}
receive-buffer = 8388608
exporters = []

[networks]
home = ["10.0.0.0/8", "192.0.2.0/24"]
exclude-bogons = false

[state]
dir = "$RUN_DIR/state"

[[list]]
name = "bench"
path = "$list"
format = "plain"

[alerts]
max-peers = 0
max-records-per-second = 0

[output]
file = "$RUN_DIR/alerts.log"
syslog = $targets
hostname = "bench"
CONF
}

# A UDP port nothing listens on now (the kernel's choice, released at once).
free_port() {
    python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); \
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_service CONFIG: runs `flowalert run` in the background; waits (at most 120 s) for
# "receiving with" (every worker bound), since building 1 M prefixes takes seconds on a
# loaded machine.
start_service() {
    "$BIN" --config "$1" run 2> "$RUN_DIR/service.err" &
    SERVICE_PID=$!
    local waited=0
    until grep -q "receiving with " "$RUN_DIR/service.err"; do
        if ! kill -0 "$SERVICE_PID" 2>/dev/null; then
            say "flowalert exited:"; cat "$RUN_DIR/service.err" >&2; return 1
        fi
        if [ $waited -ge 1200 ]; then say "flowalert not ready after 120 s"; return 1; fi
        sleep 0.1; waited=$((waited + 1))
    done
}

stop_service() {
    if [ -n "$SERVICE_PID" ] && kill -0 "$SERVICE_PID" 2>/dev/null; then
        kill -TERM "$SERVICE_PID"
        wait "$SERVICE_PID" 2>/dev/null || true
    fi
    SERVICE_PID=
}

# The service's stats line, asked for with SIGUSR1 (waits at most 10 s for it).
stats_line() {
    local before after waited=0 workers=${WORKERS:-1}
    before=$(grep -c " stats " "$RUN_DIR/service.err" || true)
    kill -USR1 "$SERVICE_PID"
    while :; do
        after=$(grep -c " stats " "$RUN_DIR/service.err" || true)
        if [ "$after" -ge $((before + workers)) ]; then break; fi
        if [ $waited -ge 100 ]; then say "no stats line after 10 s"; return 1; fi
        sleep 0.1; waited=$((waited + 1))
    done
    # One line per worker: counters are summed; kernel-drops (per port) is the same in each.
    grep " stats " "$RUN_DIR/service.err" | tail -"$workers" | awk '
        { for (i = 1; i <= NF; i++) if (split($i, kv, "=") == 2 && kv[2] ~ /^[0-9]+$/) {
              if (!(kv[1] in sum)) order[++n] = kv[1]
              sum[kv[1]] = kv[1] == "kernel-drops" ? kv[2] : sum[kv[1]] + kv[2] } }
        END { line = "stats"; for (i = 1; i <= n; i++) line = line " " order[i] "=" sum[order[i]]
              print line }'
}

# CPU time the service has used so far, in clock ticks (user + system, all threads).
service_ticks() {
    awk '{ print $14 + $15 }' "/proc/$SERVICE_PID/stat"
}

# Nanoseconds the service's receiving threads (worker-N) have waited for a CPU, from
# schedstat, summed.
loop_waited_ns() {
    local total=0 task
    for task in /proc/"$SERVICE_PID"/task/*; do
        case "$(cat "$task/comm" 2>/dev/null)" in
            worker-*) total=$((total + $(cut -d' ' -f2 "$task/schedstat"))) ;;
        esac
    done
    echo "$total"
}

# field LINE NAME: the value of NAME= in a stats line.
field() {
    printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}

# The median of the numbers on standard input, one a line.
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1;
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
