#!/usr/bin/env bash
# Datagram-to-record latency: `flowalert run` with 1 M prefixes sending RFC 5424 records to
# the UDP syslog listener of examples/latency.rs, which sends one v5 flow to a listed
# address at a time (each from its own source, so nothing folds) and times the record.
#
#   scripts/bench-latency.sh [RUNS] [SAMPLES]    (defaults 3, 10000)
#
# A run ends after SAMPLES datagrams, each waited for at most 1 s. Not run by CI.

source "$(dirname "$0")/bench-lib.sh"
RUNS=${1:-3}
SAMPLES=${2:-10000}

build_release
make_run_dir
list=$(ensure_list)
port=$(free_port)
syslog_port=$(free_port)
write_config "$RUN_DIR/run.toml" "$port" "$list" "udp://127.0.0.1:$syslog_port"
start_service "$RUN_DIR/run.toml"

for run in $(seq "$RUNS"); do
    queued=$(loop_waited_ns)
    line=$("$LATENCY" --target "127.0.0.1:$port" --listen "127.0.0.1:$syslog_port" \
        --samples "$SAMPLES" --offset $(( (run - 1) * SAMPLES )))
    queued=$(( $(loop_waited_ns) - queued ))
    say "run $run: $line (loop thread waited $((queued / 1000000)) ms for a CPU," \
        "$((queued / 1000 / SAMPLES)) us a sample on average)"
    printf '%s\n' "$line" >> "$RUN_DIR/latency"
done

summary() { while read -r l; do field "$l" "$1"; done < "$RUN_DIR/latency" | median; }
echo "latency runs=$RUNS samples=$SAMPLES p50-us=$(summary p50-us)" \
    "p99-us=$(summary p99-us) max-us=$(summary max-us) lost=$(summary lost) (medians)"
