#!/bin/sh
# Runs the fuzz targets for the parsers beyond the flow decoders: capture (pcap/pcapng),
# textlist (every list format), otx_cache (the OTX cache file), config (flowalert.toml),
# dns_reply (DNSBL answers), otx_page (one OTX API page).
# cargo-fuzz on the nightly toolchain; not called by .ci/run. Seeds come from the shared
# test data and etc/ at run time and are never committed (fuzz/corpus is ignored).
#
#   scripts/fuzz-parsers.sh [-runs=N | -max_total_time=SECS] [target...]
#
# Default: 10 million executions of each target.
set -eu
cd "$(dirname "$0")/.."

limit="-runs=10000000"
case "${1:-}" in
    -runs=*|-max_total_time=*) limit="$1"; shift ;;
esac
targets="${*:-capture textlist otx_cache config dns_reply otx_page}"
data="${FLOWALERT_TESTDATA:-../shared/testdata}"

# Copies up to 64 KiB of each file into the corpus, with `prefix` bytes in front.
seed_files() {
    corpus="$1"; prefix="$2"; shift 2
    for f in "$@"; do
        [ -f "$f" ] || continue
        name="$corpus/seed-$(basename "$f")"
        [ -f "$name" ] && continue
        { printf "$prefix"; head -c 65536 "$f"; } > "$name"
    done
}

seed() {
    corpus="fuzz/corpus/$1"
    mkdir -p "$corpus"
    case "$1" in
        capture)
            seed_files "$corpus" "" $(find "$data/captures" -name '*.pcap*' -size -64k) ;;
        textlist)
            # The first byte picks the format; 0 is auto.
            seed_files "$corpus" '\000' "$data"/lists/*.txt "$data"/lists/*.csv \
                "$data"/lists/*.netset "$data"/lists/*.list "$data"/lists/*.json ;;
        otx_cache)
            cat > "$corpus/seed-cache.json" <<'JSON'
{"version":1,"last_sync_ms":1796327229000,"pulses":[{"id":"64e38336d783f91d6948a7b1",
"name":"Example \"quoted\" pulse","modified_ms":1796327229000,"indicators":[
{"type":"IPv4","indicator":"203.0.113.9","expiration_ms":null,"is_active":true},
{"type":"CIDR","indicator":"2001:db8:bad::/48","expiration_ms":1896327229000,"is_active":true}]}]}
JSON
            ;;
        config)
            seed_files "$corpus" "" etc/*.toml ;;
        otx_page)
            seed_files "$corpus" "" "$data"/lists/otx_*.json ;;
        dns_reply)
            # A reply for 2.0.0.127.zen.spamhaus.org A 127.0.0.2, TTL 60.
            printf '\022\064\201\200\000\001\000\001\000\000\000\000\0012\0010\0010\003127\003zen\010spamhaus\003org\000\000\001\000\001\300\014\000\001\000\001\000\000\000\074\000\004\177\000\000\002' \
                > "$corpus/seed-listed" ;;
    esac
}

for t in $targets; do
    seed "$t"
    echo "== fuzz target $t ($limit)"
    cargo +nightly fuzz run --sanitizer none --debug-assertions "$t" "fuzz/corpus/$t" -- \
        "$limit" -timeout=5 -rss_limit_mb=1024 -max_len=65536
done
# otx_cache writes its input to a file named by the fuzzer's PID.
rm -f /dev/shm/flowalert-fuzz-otx-*.json
