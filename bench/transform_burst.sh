#!/usr/bin/env bash
# Memory under a burst of large transforms: N concurrent uncached requests (each a new cache key) for a
# 12 MP JPEG (the input of bench/transform.sh), at assetd's default limits. Reports every status, the
# wall time, and assetd's peak RSS (VmHWM) before and after the burst.
#
# Knobs: BENCH_BURST (64 concurrent requests), BENCH_BURST_WIDTH (2000: large outputs, so the
# streaming path and the in-memory path both show), ASSETD_BIN (default: build release).
set -euo pipefail
cd "$(dirname "$0")/.."
BURST="${BENCH_BURST:-64}"
WIDTH="${BENCH_BURST_WIDTH:-2000}"
INPUT="$HOME/.cache/assetd/bench-transform/input-4000x3000-q90-grain4.jpg"
[ -s "$INPUT" ] || { echo "run bench/transform.sh once first (it generates $INPUT)" >&2; exit 1; }
if [ -z "${ASSETD_BIN:-}" ]; then
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/assetd/target}"
    cargo build --release --locked --bin assetd
    ASSETD_BIN="$CARGO_TARGET_DIR/release/assetd"
fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/assetd-burst.XXXXXX")"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
ASSETD_LISTEN="127.0.0.1:$PORT" ASSETD_DATA_DIR="$WORK/data" ASSETD_API_TOKEN=bench-token ASSETD_PUBLIC_URL="$BASE" \
    ASSETD_RATE_LIMIT=0 RUST_LOG=warn "$ASSETD_BIN" serve >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done
H=(-H "Authorization: Bearer bench-token" -H "Accept: application/json" -H "X-Api-Version: 3" -H "Content-Type: application/vnd.api+json")
REQ="$(curl -sf "${H[@]}" -X POST "$BASE/upload-requests" -d '{"data":{"type":"upload_request","attributes":{"filename":"big.jpg"}}}')"
curl -sf -X PUT --data-binary @"$INPUT" "$(jq -r .data.attributes.url <<<"$REQ")" >/dev/null
JOB="$(curl -sf "${H[@]}" -X POST "$BASE/uploads" -d "{\"data\":{\"type\":\"upload\",\"attributes\":{\"path\":\"$(jq -r .data.id <<<"$REQ")\"}}}" | jq -r .data.id)"
for _ in $(seq 200); do
    [ "$(curl -s -o "$WORK/job.json" -w '%{http_code}' "${H[@]}" "$BASE/job-results/$JOB")" = 200 ] && break
    sleep 0.1
done
URL="$(jq -r .data.attributes.payload.data.attributes.url "$WORK/job.json")"
hwm() { awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$PID/status"; }
BEFORE="$(hwm)"
START="$(date +%s.%N)"
# Every request has its own cache key: h=3001, 3002, … never binds (w does), so all outputs are WIDTH px wide.
seq -w 1 "$BURST" | sed 's/^/30/' | xargs -P "$BURST" -I{} curl -s -o /dev/null -w '%{http_code}\n' "$URL?w=$WIDTH&h={}&fm=jpg" >"$WORK/codes"
END="$(date +%s.%N)"
AFTER="$(hwm)"
echo "burst of $BURST concurrent transforms of a 12 MP JPEG to ~${WIDTH} px: $(sort "$WORK/codes" | uniq -c | tr -s ' ' | tr '\n' ';') in $(python3 -c "print(round($END - $START, 1))") s"
echo "assetd peak RSS (VmHWM): ${BEFORE} MiB after the upload, ${AFTER} MiB after the burst"
