#!/usr/bin/env bash
# The soak test of issue 6 (see RELIABILITY.md): 10 minutes of mixed load on one assetd, watching memory, errors
# and latency.
#
# Builds in release (SOAK_PROFILE=dev: the dev profile, whose dependencies are optimised but assetd itself is not),
# starts assetd on a free 127.0.0.1 port with a fresh temp data dir (SQLite + files on local
# disk, ASSETD_RATE_LIMIT=0, RUST_LOG=warn, the background cleanup sweep every 60 s with a 60 s grace so it runs
# under load, everything else default), then runs examples/soak.rs: SOAK_CLIENTS clients, each looping over a
# weighted mix of uploads (upload request + direct PUT + POST /uploads + job result), metadata updates (PUT + job
# result), filtered listings, asset GETs, image transforms (mostly four cached sizes, one in five a new width)
# and deletes, keeping 40-300 uploads alive. The server's VmRSS/VmHWM is sampled every SOAK_SAMPLE_SECS from
# /proc. Prints a markdown report (latency percentiles and outcomes per operation, RSS and errors per minute),
# then the count of ERROR lines in the server log and a final `assetd cleanup` of the stopped server's data
# dir (ASSETD_CLEANUP_GRACE=0): what a run leaves behind. Stops the server and removes the temp dir (also on
# failure or Ctrl-C). Exits non-zero when an operation failed.
#
# Knobs (environment): SOAK_SECS (600), SOAK_CLIENTS (8), SOAK_SAMPLE_SECS (5), SOAK_PROFILE (release),
# SOAK_SUMMARY (a file to also write the report to). ~11 min (plus the build when src/ changed).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS="${SOAK_SECS:-600}"
CLIENTS="${SOAK_CLIENTS:-8}"
SAMPLE_SECS="${SOAK_SAMPLE_SECS:-5}"
PROFILE="${SOAK_PROFILE:-release}"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/assetd/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
case "$PROFILE" in
release) BIN="$CARGO_TARGET_DIR/release" ;;
dev) BIN="$CARGO_TARGET_DIR/debug" ;;
*) printf 'bench/soak.sh: SOAK_PROFILE must be release or dev\n' >&2; exit 2 ;;
esac

log() { printf '== %s\n' "$*" >&2; }
die() {
    printf 'bench/soak.sh: %s\n' "$*" >&2
    exit 1
}

command -v curl >/dev/null || die "curl is needed"

log "building assetd and the soak load generator ($PROFILE)"
cargo build --profile "$PROFILE" --locked --bin assetd --example soak

WORK="$(mktemp -d "${TMPDIR:-/tmp}/assetd-soak.XXXXXX")"
ASSETD_PID=""

stop_server() { # pid: SIGTERM, wait up to 25 s (assetd drains jobs up to 20 s), then SIGKILL
    local pid="$1"
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 250); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_server "$ASSETD_PID"
    if [ "$status" -ne 0 ] && [ -f "$WORK/assetd.log" ]; then
        echo "--- last lines of the assetd log" >&2
        tail -n 30 "$WORK/assetd.log" >&2 || true
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { # a 127.0.0.1 port nothing answers on
    local port
    for _ in $(seq 1 100); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    die "no free port found"
}

TOKEN="soak-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
SETTINGS=(ASSETD_LISTEN="127.0.0.1:$PORT" ASSETD_DATA_DIR="$WORK/data" ASSETD_API_TOKEN="$TOKEN"
    ASSETD_RATE_LIMIT=0 ASSETD_CLEANUP_INTERVAL=60 ASSETD_CLEANUP_GRACE=60 RUST_LOG=warn)

log "starting assetd on $BASE (data dir $WORK/data)"
env "${SETTINGS[@]}" "$BIN/assetd" serve >"$WORK/assetd.log" 2>&1 &
ASSETD_PID=$!
for _ in $(seq 1 300); do
    kill -0 "$ASSETD_PID" 2>/dev/null || die "assetd exited during start"
    curl -s -o /dev/null "$BASE/healthz" && break
    sleep 0.1
done

log "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), $(uname -sr)"
log "soak: $CLIENTS clients for $SECS s, RSS every $SAMPLE_SECS s"
REPORT="$WORK/report.md"
set +e
SOAK_TOKEN="$TOKEN" "$BIN/examples/soak" --base-url "$BASE" --server-pid "$ASSETD_PID" \
    --duration-secs "$SECS" --clients "$CLIENTS" --sample-secs "$SAMPLE_SECS" --rss-csv "$WORK/rss.csv" |
    tee "$REPORT"
soak_status=${PIPESTATUS[0]}
set -e
[ "$soak_status" -eq 0 ] || die "the load generator failed ($soak_status)"
kill -0 "$ASSETD_PID" 2>/dev/null || die "assetd died during the soak"

stop_server "$ASSETD_PID"
ASSETD_PID=""
{
    echo
    echo "Server log: $(grep -c ' ERROR ' "$WORK/assetd.log" || true) ERROR lines, $(grep -c ' WARN ' "$WORK/assetd.log" || true) WARN lines."
    { grep ' ERROR \| WARN ' "$WORK/assetd.log" || true; } | sed -E 's/^[^ ]+ //' | sort | uniq -c | sort -rn |
        head -n 10 | sed 's/^/    /'
    echo
    echo "After the run, \`assetd cleanup\` with ASSETD_CLEANUP_GRACE=0 on the stopped server's data dir:"
    env "${SETTINGS[@]}" ASSETD_CLEANUP_GRACE=0 "$BIN/assetd" cleanup 2>&1 | tail -n 1 | sed 's/^/    /'
} | tee -a "$REPORT"
if [ -n "${SOAK_SUMMARY:-}" ]; then
    cp "$REPORT" "$SOAK_SUMMARY"
fi
grep -q '^SOAK_ERRORS 0$' "$REPORT" || die "some operations failed (see the outcomes above)"
