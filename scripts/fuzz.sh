#!/bin/sh
# Runs the flow decoder fuzz targets (cargo-fuzz on the nightly toolchain). Not called by
# .ci/run. Seeds come from the shared test data at run time and are never committed.
#
#   scripts/fuzz.sh [-runs=N | -max_total_time=SECS] [target...]
#
# Default: 10 million executions of each of v5, v9, ipfix. Safe Rust needs no
# AddressSanitizer; debug assertions stay on so arithmetic overflow is found too.
set -eu
cd "$(dirname "$0")/.."

limit="-runs=10000000"
case "${1:-}" in
    -runs=*|-max_total_time=*) limit="$1"; shift ;;
esac
targets="${*:-v5 v9 ipfix}"
data="${FLOWALERT_TESTDATA:-../shared/testdata}"

seed() {
    corpus="fuzz/corpus/$1"
    mkdir -p "$corpus"
    # Each seed gets a leading exporter-selector byte, as the targets expect.
    for f in "$data"/vectors/*.bin "$data"/captures/*/*/bin/*.bin "$data"/captures/*/bin/*.bin; do
        [ -f "$f" ] || continue
        name="$corpus/seed-$(basename "$f")"
        [ -f "$name" ] || { printf '\000' > "$name"; cat "$f" >> "$name"; }
    done
}

for t in $targets; do
    seed "$t"
    echo "== fuzz target $t ($limit)"
    cargo +nightly fuzz run --sanitizer none --debug-assertions "$t" "fuzz/corpus/$t" -- \
        "$limit" -timeout=5 -rss_limit_mb=1024
done
