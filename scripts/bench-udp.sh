#!/usr/bin/env bash
# The highest lossless UDP rate on loopback: `flowalert run` with 1 M prefixes loaded, driven
# by `loadgen send` (sendmmsg, one source address per exporter, 30 records a datagram).
# A step is lossless when the service received every datagram sent and the kernel dropped
# none; the rate is bisected between a floor and what the sender reaches flat out.
#
#   [WORKERS=N] scripts/bench-udp.sh [RUNS] [SECONDS_PER_STEP] [STEPS]  (defaults 3, 5, 7)
#
# Each run is at most STEPS + 2 steps of SECONDS_PER_STEP. Not run by CI.

source "$(dirname "$0")/bench-lib.sh"
RUNS=${1:-3}
SECONDS_PER_STEP=${2:-5}
STEPS=${3:-7}
EXPORTERS=${EXPORTERS:-8}
FLOOR=10000

build_release
make_run_dir
list=$(ensure_list)
port=$(free_port)
write_config "$RUN_DIR/run.toml" "$port" "$list"
start_service "$RUN_DIR/run.toml"

# step RATE: sends for SECONDS_PER_STEP; prints "sent received kernel-drops achieved
# service-cpu-percent waited-ms" (CPU of one core over the step, and how long the loop
# thread was runnable but waiting for a CPU).
step() {
    local before after out sent ticks queued
    before=$(stats_line)
    ticks=$(service_ticks)
    queued=$(loop_waited_ns)
    out=$("$LOADGEN" send --target "127.0.0.1:$port" --exporters "$EXPORTERS" --rate "$1" \
        --seconds "$SECONDS_PER_STEP" --records 30)
    ticks=$(( $(service_ticks) - ticks ))
    queued=$(( ($(loop_waited_ns) - queued) / 1000000 ))
    sleep 0.5 # let the loop drain what is queued
    after=$(stats_line)
    sent=$(printf '%s\n' "$out" | sed -n 's/^sent \([0-9]*\) datagrams.*/\1/p')
    local achieved=${out##*: }
    echo "$sent" \
        "$(( $(field "$after" datagrams) - $(field "$before" datagrams) ))" \
        "$(( $(field "$after" kernel-drops) - $(field "$before" kernel-drops) ))" \
        "${achieved%/s}" \
        "$(awk "BEGIN { printf \"%.0f\", $ticks / $(getconf CLK_TCK) / $SECONDS_PER_STEP * 100 }")" \
        "$queued"
}

# lossless RATE: true when the step at RATE lost nothing; logs the step.
lossless() {
    local sent received drops achieved cpu queued
    read -r sent received drops achieved cpu queued < <(step "$1")
    say "  rate $1/s: sent $sent received $received kernel-drops $drops" \
        "(sender $achieved/s, service CPU $cpu% of a core, loop waited $queued ms for a CPU)"
    [ "$sent" -gt 0 ] && [ "$sent" -eq "$received" ] && [ "$drops" -eq 0 ]
}

for run in $(seq "$RUNS"); do
    say "run $run"
    read -r _ _ _ flat _ _ < <(step 0)
    high=${flat%.*}
    say "  flat out the sender reaches $high/s"
    best=0
    if lossless "$high"; then
        best=$high
    else
        low=$FLOOR
        for _ in $(seq "$STEPS"); do
            mid=$(( (low + high) / 2 ))
            if lossless "$mid"; then best=$mid; low=$mid; else high=$mid; fi
        done
    fi
    say "  lossless up to $best datagrams/s"
    echo "$best" >> "$RUN_DIR/best"
done

rate=$(median < "$RUN_DIR/best")
echo "udp workers=${WORKERS:-1} runs=$RUNS step-s=$SECONDS_PER_STEP exporters=$EXPORTERS" \
    "lossless-datagrams-per-s=$rate records-per-s=$(awk "BEGIN{print $rate * 30}")" \
    "(median; runs: $(tr '\n' ' ' < "$RUN_DIR/best"))"
