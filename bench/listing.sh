#!/usr/bin/env bash
# Listing at a million uploads: seeds COUNT synthetic uploads (cached between runs in
# $BENCH_DIR), starts assetd on them and times the representative GET /uploads queries.
# Usage: bench/listing.sh [COUNT] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT="${1:-1000000}"
RUNS="${2:-50}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/assetd/target}"
BENCH_DIR="${BENCH_DIR:-$HOME/.cache/assetd/bench-listing-$COUNT}"
TOKEN="bench-listing-token"

cargo build --release --locked --bin assetd --example bench_listing
BIN="$CARGO_TARGET_DIR/release"

# The seeded database is reused while the migrations it was made with are unchanged.
SCHEMA=$(cat migrations/sqlite/*.sql | sha256sum | cut -c1-16)
if [ "$(cat "$BENCH_DIR/seeded" 2>/dev/null)" != "$SCHEMA" ]; then
  rm -rf "$BENCH_DIR"
  /usr/bin/time -v "$BIN/examples/bench_listing" seed "$BENCH_DIR" "$COUNT" 2> >(grep -E "seeded|Elapsed|Maximum resident" >&2)
  echo "$SCHEMA" > "$BENCH_DIR/seeded"
fi
du -sh "$BENCH_DIR"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ASSETD_LISTEN="127.0.0.1:$PORT" ASSETD_DATA_DIR="$BENCH_DIR" ASSETD_API_TOKEN="$TOKEN" ASSETD_LOCALES=en,it \
  ASSETD_RATE_LIMIT=0 RUST_LOG=warn "$BIN/assetd" serve &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

"$BIN/examples/bench_listing" query "http://127.0.0.1:$PORT" "$TOKEN" "$BENCH_DIR" "$RUNS"
