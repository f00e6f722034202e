#!/usr/bin/env bash
# The first assetd benchmark (see BENCHMARKS.md):
#   1. the seed update: N clients loop PUT /uploads/{id} + poll GET /job-results/{job} until 200
#      (examples/bench_update.rs): p50/p90/p99/max and updates/s;
#   2. GET /uploads/{id} requests/s with wrk, assetd vs a bare axum handler answering the same JSON
#      (examples/bench_bare_axum.rs), interleaved assetd, bare, assetd, bare… in the same run.
# Builds in release, starts assetd on a free 127.0.0.1 port with a fresh temp data dir, creates the uploads
# through the API, prints a markdown summary, stops both servers and removes the temp dir.
#
# Knobs (environment): BENCH_CLIENTS (8), BENCH_UPDATE_SECS (20), BENCH_UPDATE_WARMUP (2),
# BENCH_UPDATE_MAX (200000), BENCH_POLL_MS (2), BENCH_WRK_THREADS (1), BENCH_WRK_CONNS (16),
# BENCH_WRK_SECS (10), BENCH_ROUNDS (2), BENCH_BREAKDOWN (1: also measure GET /healthz and
# GET /job-results/{id} in each round, to show where assetd's GET time goes; 0: only assetd and bare),
# BENCH_SUMMARY (a file to also write the markdown summary to).
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS="${BENCH_CLIENTS:-8}"
UPDATE_SECS="${BENCH_UPDATE_SECS:-20}"
UPDATE_WARMUP="${BENCH_UPDATE_WARMUP:-2}"
UPDATE_MAX="${BENCH_UPDATE_MAX:-200000}"
POLL_MS="${BENCH_POLL_MS:-2}"
WRK_THREADS="${BENCH_WRK_THREADS:-1}"
WRK_CONNS="${BENCH_WRK_CONNS:-16}"
WRK_SECS="${BENCH_WRK_SECS:-10}"
ROUNDS="${BENCH_ROUNDS:-2}"
BREAKDOWN="${BENCH_BREAKDOWN:-1}"
FIXTURE=tests/fixtures/cat.jpg

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/assetd/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
BIN="$CARGO_TARGET_DIR/release"

log() { printf '== %s\n' "$*" >&2; }
die() {
    printf 'bench/run.sh: %s\n' "$*" >&2
    exit 1
}

# ---- tools --------------------------------------------------------------------------------------
missing=()
for tool in wrk curl jq; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
    log "installing ${missing[*]} (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

log "building assetd and the bench examples (release)"
cargo build --release --locked --bin assetd --example bench_update --example bench_bare_axum

# ---- servers and cleanup ------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/assetd-bench.XXXXXX")"
ASSETD_PID=""
BARE_PID=""

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
    stop_server "$BARE_PID"
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

wait_until_up() { # url pid name
    for _ in $(seq 1 300); do
        kill -0 "$2" 2>/dev/null || die "$3 exited during start"
        curl -s -o /dev/null "$1" && return 0
        sleep 0.1
    done
    die "$3 did not answer on $1 within 30 s"
}

TOKEN="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export BENCH_TOKEN="$TOKEN"
ASSETD_PORT="$(free_port)"
BASE="http://127.0.0.1:$ASSETD_PORT"

log "starting assetd on $BASE (data dir $WORK/data, rate limit off)"
ASSETD_LISTEN="127.0.0.1:$ASSETD_PORT" ASSETD_DATA_DIR="$WORK/data" ASSETD_API_TOKEN="$TOKEN" \
    ASSETD_RATE_LIMIT=0 RUST_LOG=warn "$BIN/assetd" serve >"$WORK/assetd.log" 2>&1 &
ASSETD_PID=$!
wait_until_up "$BASE/healthz" "$ASSETD_PID" assetd

CMA=(-H "Authorization: Bearer $TOKEN" -H "Accept: application/json" -H "X-Api-Version: 3")
JSON_API=(-H "Content-Type: application/vnd.api+json")

# ---- the uploads the update bench needs ---------------------------------------------------------
create_upload() { # n -> prints the upload id
    local request path url job code
    request="$(curl -sS --fail-with-body "${CMA[@]}" "${JSON_API[@]}" -X POST "$BASE/upload-requests" \
        -d "{\"data\":{\"type\":\"upload_request\",\"attributes\":{\"filename\":\"cat-$1.jpg\"}}}")"
    path="$(jq -er .data.id <<<"$request")"
    url="$(jq -er .data.attributes.url <<<"$request")"
    curl -sS --fail-with-body -X PUT --data-binary "@$FIXTURE" "$url" >/dev/null
    job="$(curl -sS --fail-with-body "${CMA[@]}" "${JSON_API[@]}" -X POST "$BASE/uploads" \
        -d "$(jq -nc --arg path "$path" '{data: {type: "upload", attributes: {path: $path}}}')" | jq -er .data.id)"
    for _ in $(seq 1 200); do
        code="$(curl -sS -o "$WORK/job.json" -w '%{http_code}' "${CMA[@]}" "$BASE/job-results/$job")"
        case "$code" in
        200)
            jq -e '.data.attributes.status == 200' "$WORK/job.json" >/dev/null ||
                die "creating upload $1 failed: $(cat "$WORK/job.json")"
            echo "$job" >"$WORK/last_job"
            jq -er .data.attributes.payload.data.id "$WORK/job.json"
            return 0
            ;;
        404) sleep 0.05 ;;
        *) die "GET /job-results/$job answered $code: $(cat "$WORK/job.json")" ;;
        esac
    done
    die "upload $1 not created within 10 s"
}

log "creating $CLIENTS uploads of $FIXTURE through the API"
ids=()
for n in $(seq 1 "$CLIENTS"); do
    ids+=("$(create_upload "$n")")
done
IDS="$(IFS=,; echo "${ids[*]}")"

# ---- 1. the seed update -------------------------------------------------------------------------
log "seed update: $CLIENTS clients, ${UPDATE_WARMUP} s warm-up + ${UPDATE_SECS} s, poll every ${POLL_MS} ms"
"$BIN/examples/bench_update" --base-url "$BASE" --ids "$IDS" --clients "$CLIENTS" \
    --duration-secs "$UPDATE_SECS" --warmup-secs "$UPDATE_WARMUP" --max-updates "$UPDATE_MAX" \
    --poll-ms "$POLL_MS" | tee "$WORK/update.txt" >&2
UPDATE_JSON="$(sed -n 's/^BENCH_JSON //p' "$WORK/update.txt")"
[ -n "$UPDATE_JSON" ] || die "bench_update printed no BENCH_JSON line"

# ---- 2. GET /uploads/{id}: assetd vs bare axum --------------------------------------------------
GET_ID="${ids[0]}"
curl -sS --fail-with-body "${CMA[@]}" -o "$WORK/upload.json" "$BASE/uploads/$GET_ID"
BARE_PORT="$(free_port)"
BARE="http://127.0.0.1:$BARE_PORT"
log "starting the bare axum baseline on $BARE ($(wc -c <"$WORK/upload.json") byte body captured from assetd)"
"$BIN/examples/bench_bare_axum" --listen "127.0.0.1:$BARE_PORT" --body "$WORK/upload.json" >"$WORK/bare.log" 2>&1 &
BARE_PID=$!
wait_until_up "$BARE/uploads/$GET_ID" "$BARE_PID" bench_bare_axum
curl -sS --fail-with-body -o "$WORK/bare.json" "$BARE/uploads/$GET_ID"
cmp -s "$WORK/upload.json" "$WORK/bare.json" || die "the baseline does not answer the same body as assetd"

declare -A URL=([assetd]="$BASE/uploads/$GET_ID" [bare]="$BARE/uploads/$GET_ID")
TARGETS=(assetd bare)
if [ "$BREAKDOWN" = 1 ]; then
    # One SQLite query and no guard; then the guard (token lookup) and one query answering a stored JSON.
    URL[healthz]="$BASE/healthz"
    URL[job-result]="$BASE/job-results/$(cat "$WORK/last_job")"
    TARGETS+=(healthz job-result)
fi
run_wrk() { # label target secs
    BENCH_LABEL="$1" wrk -t "$WRK_THREADS" -c "$WRK_CONNS" -d "${3}s" -s bench/wrk_get.lua "${URL[$2]}"
}
log "wrk warm-up (2 s each, not recorded)"
for target in "${TARGETS[@]}"; do
    run_wrk warmup "$target" 2 >/dev/null
done
: >"$WORK/get.jsonl"
for round in $(seq 1 "$ROUNDS"); do
    for target in "${TARGETS[@]}"; do
        log "GET round $round: $target (wrk -t$WRK_THREADS -c$WRK_CONNS -d${WRK_SECS}s)"
        run_wrk "$target" "$target" "$WRK_SECS" | tee "$WORK/wrk.txt" >&2
        sed -n 's/^BENCH_JSON //p' "$WORK/wrk.txt" | jq -c --argjson round "$round" '. + {round: $round}' \
            >>"$WORK/get.jsonl"
    done
done

# ---- summary ------------------------------------------------------------------------------------
summary() {
    echo "### Run finished $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "assetd $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (src/ modified)')," \
        "$(nproc) cores, $(rustc --version | cut -d' ' -f1-2), $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2)"
    echo
    echo "Seed update ($CLIENTS clients, 1 upload each, ${UPDATE_SECS} s after ${UPDATE_WARMUP} s warm-up, poll ${POLL_MS} ms):"
    echo
    echo "| updates | errors | updates/s | p50 ms | p90 ms | p99 ms | max ms | 202 p50 ms | 202 p99 ms | polls/update |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    jq -r '"| \(.count) | \(.errors) | \(.updates_per_s) | \(.p50_ms) | \(.p90_ms) | \(.p99_ms) | \(.max_ms) | \(.accepted_p50_ms) | \(.accepted_p99_ms) | \(.polls_per_update) |"' <<<"$UPDATE_JSON"
    echo
    echo "GET requests/s (wrk -t$WRK_THREADS -c$WRK_CONNS -d${WRK_SECS}s each, interleaved): assetd = GET /uploads/{id}" \
        "($(wc -c <"$WORK/upload.json") byte body), bare = the same body from bench_bare_axum$([ "$BREAKDOWN" = 1 ] &&
            echo ", healthz = GET /healthz (no guard, one SELECT 1), job-result = GET /job-results/{id} (guard + one query)"):"
    echo
    echo "| round | server | requests/s | p50 ms | p90 ms | p99 ms | max ms | errors |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|"
    jq -r '"| \(.round) | \(.label) | \(.requests_per_s) | \(.p50_ms) | \(.p90_ms) | \(.p99_ms) | \(.max_ms) | \(.errors | add) |"' \
        "$WORK/get.jsonl"
    echo
    echo "Ratios to the bare axum baseline of the same round (requests/s: lower is slower; p50: higher is slower):"
    echo
    echo "| round | server | requests/s ÷ bare | p50 latency ÷ bare |"
    echo "|---:|---|---:|---:|"
    jq -rs 'def r3: . * 1000 | round / 1000; def r2: . * 100 | round / 100;
        (group_by(.round)[] | (map({key: .label, value: .}) | from_entries) as $r
            | .[] | select(.label != "bare")
            | "| \(.round) | \(.label) | \(.requests_per_s / $r.bare.requests_per_s | r3) | \(.p50_ms / $r.bare.p50_ms | r2) |"),
        (map(select(.label == "bare") | .requests_per_s) | add) as $b
        | (map(select(.label != "bare")) | group_by(.label)[]
            | "| all | \(.[0].label) | \(map(.requests_per_s) | add / $b | r3) | |")' "$WORK/get.jsonl"
}
echo
summary | tee "${BENCH_SUMMARY:-/dev/null}"
if jq -e 'select(.errors | add > 0)' "$WORK/get.jsonl" >/dev/null; then
    die "wrk saw errors (non-2xx answers or socket errors): see the table"
fi
if jq -e '.errors > 0' <<<"$UPDATE_JSON" >/dev/null; then
    die "the update bench saw errors"
fi
