#!/usr/bin/env bash
# Memory under a burst of large transforms: N concurrent uncached requests (each a new cache key) for a
# 12 MP JPEG (the input of bench/transform.sh), at assetd's default limits. Reports every status, the
# wall time, and assetd's peak RSS (VmHWM) before and after the burst.
#
# Knobs: BENCH_BURST (64 concurrent requests), BENCH_BURST_WIDTH (2000: large outputs, so the
# streaming path and the in-memory path both show), ASSETD_BIN (default: build release).
set -euo pipefail
cd "$(dirname "$0")/.."
die() {
    printf 'bench/transform_burst.sh: %s\n' "$*" >&2
    exit 1
}
# shellcheck source=bench/transform/lib.sh
. bench/transform/lib.sh
BURST="${BENCH_BURST:-64}"
WIDTH="${BENCH_BURST_WIDTH:-2000}"
INPUT="$(ensure_input "$HOME/.cache/assetd/bench-transform" 4000 3000 90 4)"
if [ -z "${ASSETD_BIN:-}" ]; then
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/assetd/target}"
    cargo build --release --locked --bin assetd
    ASSETD_BIN="$CARGO_TARGET_DIR/release/assetd"
fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/assetd-burst.XXXXXX")"
PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
ASSETD_LISTEN="127.0.0.1:$PORT" ASSETD_DATA_DIR="$WORK/data" ASSETD_API_TOKEN=bench-token ASSETD_PUBLIC_URL="$BASE" \
    ASSETD_RATE_LIMIT=0 RUST_LOG=warn "$ASSETD_BIN" serve >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
wait_until_up "$BASE/healthz" "$PID" assetd
URL="$BASE$(upload_to "$BASE" bench-token "$WORK" "$INPUT" big.jpg)"
hwm() { echo $(($(peak_kb "$PID") / 1024)); }
BEFORE="$(hwm)"
START="$(date +%s.%N)"
# Every request has its own cache key: h=3001, 3002, … never binds (w does), so all outputs are WIDTH px wide.
seq -w 1 "$BURST" | sed 's/^/30/' | xargs -P "$BURST" -I{} curl -s -o /dev/null -w '%{http_code}\n' "$URL?w=$WIDTH&h={}&fm=jpg" >"$WORK/codes"
END="$(date +%s.%N)"
AFTER="$(hwm)"
echo "burst of $BURST concurrent transforms of a 12 MP JPEG to ~${WIDTH} px: $(sort "$WORK/codes" | uniq -c | tr -s ' ' | tr '\n' ';') in $(python3 -c "print(round($END - $START, 1))") s"
echo "assetd peak RSS (VmHWM): ${BEFORE} MiB after the upload, ${AFTER} MiB after the burst"
