#!/usr/bin/env bash
# Loss during reloads: `flowalert run` with 1 M prefixes, `loadgen send` at 50 k datagrams/s
# for 20 s, SIGHUP at 4, 10 and 16 s (each reload rebuilds the 1 M prefix set on another
# thread). Compares datagrams sent and received, kernel drops and sequence gaps. Each run
# with reloads follows a baseline run without, so loss the rate alone causes shows apart.
#
#   scripts/bench-reload.sh [RUNS] [RATE]    (defaults 3, 50000)
#
# Each pair of runs takes about 40 s plus the reloads' end (waited for at most 120 s). Not
# run by CI. Sequence gaps include the jump back to 0 when the next run's sender starts.

source "$(dirname "$0")/bench-lib.sh"
RUNS=${1:-3}
RATE=${2:-50000}
SECONDS_SENT=20
EXPORTERS=${EXPORTERS:-8}

build_release
make_run_dir
list=$(ensure_list)
port=$(free_port)
write_config "$RUN_DIR/run.toml" "$port" "$list"
start_service "$RUN_DIR/run.toml"

# Reloads started ("reloading") and ended (a set swapped in, or a failure), from the log.
# SIGHUPs that arrive during a rebuild are folded into one more rebuild, so this, not the
# number of signals, says when every reload has ended.
reloads_started() { grep -c "reloading " "$RUN_DIR/service.err" || true; }
reloads_ended() {
    local ready failed
    ready=$(grep -c "indicator set ready" "$RUN_DIR/service.err" || true)
    failed=$(grep -c "reload failed" "$RUN_DIR/service.err" || true)
    echo $(( ready - 1 + failed ))
}

# one_run HUPS: sends for SECONDS_SENT with HUPS reloads; prints "lost" and logs the run.
one_run() {
    local hups=$1 before after sender sent received drops gaps reloads queued ticks
    before=$(stats_line)
    queued=$(loop_waited_ns)
    ticks=$(service_ticks)
    "$LOADGEN" send --target "127.0.0.1:$port" --exporters "$EXPORTERS" --rate "$RATE" \
        --seconds "$SECONDS_SENT" --records 30 > "$RUN_DIR/sent" &
    sender=$!
    if [ "$hups" -gt 0 ]; then
        for at in 4 6 6; do sleep "$at"; kill -HUP "$SERVICE_PID"; done
    fi
    wait "$sender"
    queued=$(( ($(loop_waited_ns) - queued) / 1000000 ))
    ticks=$(( $(service_ticks) - ticks ))
    for _ in $(seq 240); do
        if [ "$(reloads_ended)" -ge "$(reloads_started)" ]; then break; fi
        sleep 0.5
    done
    after=$(stats_line)
    sent=$(sed -n 's/^sent \([0-9]*\) datagrams.*/\1/p' "$RUN_DIR/sent")
    received=$(( $(field "$after" datagrams) - $(field "$before" datagrams) ))
    drops=$(( $(field "$after" kernel-drops) - $(field "$before" kernel-drops) ))
    gaps=$(( $(field "$after" sequence-gaps) - $(field "$before" sequence-gaps) ))
    reloads=$(( $(field "$after" reloads) + $(field "$after" reloads-failed) \
        - $(field "$before" reloads) - $(field "$before" reloads-failed) ))
    say "  $hups SIGHUPs: sent $sent received $received lost $(( sent - received ))" \
        "kernel-drops $drops sequence-gaps $gaps reloads-finished $reloads (SIGHUPs during a rebuild fold into one);" \
        "loop thread waited $queued ms for a CPU; service CPU $ticks ticks" \
        "($(cut -d' ' -f9- "$RUN_DIR/sent"))"
    echo $(( sent - received ))
}

for run in $(seq "$RUNS"); do
    say "run $run"
    one_run 0 >> "$RUN_DIR/baseline"
    one_run 3 >> "$RUN_DIR/lost"
done
say "service log, reload lines:"
grep -E "reloading|reload failed|indicator set ready" "$RUN_DIR/service.err" | sed 's/^/  /' >&2

echo "reload runs=$RUNS rate=$RATE seconds=$SECONDS_SENT sighups-per-run=3" \
    "lost-with-reloads-median=$(median < "$RUN_DIR/lost")" \
    "(runs: $(tr '\n' ' ' < "$RUN_DIR/lost")) lost-without-median=$(median < "$RUN_DIR/baseline")" \
    "(runs: $(tr '\n' ' ' < "$RUN_DIR/baseline"))"
