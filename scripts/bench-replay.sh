#!/usr/bin/env bash
# Records per second through `flowalert replay`: 10 M generated v5 records, 1 M IPv4 and
# 50 k IPv6 prefixes loaded, records to /dev/null. Set build time is reported apart.
#
#   scripts/bench-replay.sh [RUNS]        (default 5 runs; prints each and the medians)
#
# Rates are given by wall time and by the replay thread's CPU time: on a machine shared with
# other work the CPU figure is what one core does. Not run by CI.

source "$(dirname "$0")/bench-lib.sh"
RUNS=${1:-5}

build_release
make_run_dir
list=$(ensure_list)
pcap=$(ensure_capture)
write_config "$RUN_DIR/replay.toml" 2055 "$list"

for run in $(seq "$RUNS"); do
    "$BIN" --config "$RUN_DIR/replay.toml" replay "$pcap" > /dev/null 2> "$RUN_DIR/replay.err"
    line=$(grep " timing " "$RUN_DIR/replay.err")
    say "run $run: ${line#*timing }"
    printf '%s\n' "$line" >> "$RUN_DIR/timings"
done

summary() {
    while read -r l; do field "$l" "$1"; done < "$RUN_DIR/timings" | median
}
echo "replay runs=$RUNS records=$(field "$line" records)" \
    "build-wall-s=$(summary build-wall) build-cpu-s=$(summary build-cpu)" \
    "replay-wall-s=$(summary replay-wall) replay-cpu-s=$(summary replay-cpu)" \
    "records-per-s-wall=$(summary records-per-s-wall)" \
    "records-per-s-cpu=$(summary records-per-s-cpu) (medians)"
