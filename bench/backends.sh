#!/usr/bin/env bash
# The database comparison of issue 5 (see BENCHMARKS.md, "Scale-out"): the seed update and GET /uploads/{id}
# of bench/run.sh, on SQLite and on PostgreSQL, side by side in the same run.
#
# Builds in release, starts two assetd servers with the same settings (ASSETD_RATE_LIMIT=0, RUST_LOG=warn, the
# same token, everything else default) on free 127.0.0.1 ports:
#   - sqlite:   the embedded SQLite in a fresh temp data dir, files on local disk in that dir;
#   - postgres: PostgreSQL at BENCH_DATABASE_URL in a fresh schema assetd_tbench_<random hex>, files on local
#               disk in its own temp data dir (the same storage as sqlite: only the database differs).
# Creates the same uploads (BENCH_CLIENTS × tests/fixtures/cat.jpg) in both through the API, then runs rounds;
# each round interleaves the two servers:
#   1. the seed update (examples/bench_update.rs, the knobs of bench/run.sh): sqlite, then postgres;
#   2. wrk GET /uploads/{id} (bench/wrk_get.lua, all CMA headers): sqlite, then postgres; with BENCH_BREAKDOWN=1
#      also GET /readyz (no guard, one `SELECT 1` plus a metadata lookup of a missing file on the local disk,
#      the same on both: about one database round trip) and GET /job-results/{id} (guard + one query), sqlite
#      then postgres each.
# After the rounds (BENCH_PG_SAMPLE=1), one more seed update on postgres, not counted, during which one psql session
# samples pg_stat_activity every 20 ms (the client backends of the database that are active: what they wait on and
# the statement): where the PostgreSQL update time goes.
# CPU is accounted per phase: assetd's own CPU per operation, PostgreSQL's (every process of the OS user running
# the postgres server, so other clients of that server count too: the sqlite rows show that background) and the
# rest of the machine (wrk or bench_update, other sessions) in % of all cores.
# Prints a markdown summary (every round, the best of the rounds, the ratios postgres ÷ sqlite of the same round
# and of the best rounds, peak RSS), stops both servers, drops the schema and removes the temp dirs (also on
# failure or Ctrl-C). Exits non-zero if an update failed or wrk saw a non-2xx answer or a socket error.
#
# Knobs (environment): BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/test), BENCH_CLIENTS (8),
# BENCH_UPDATE_SECS (20), BENCH_UPDATE_WARMUP (2), BENCH_UPDATE_MAX (200000), BENCH_POLL_MS (2),
# BENCH_WRK_THREADS (1), BENCH_WRK_CONNS (16), BENCH_WRK_SECS (10), BENCH_ROUNDS (2), BENCH_BREAKDOWN (1),
# BENCH_PG_SAMPLE (1), BENCH_SUMMARY (a file to also write the markdown summary to). ~4.5 min with the defaults
# (plus the build when src/ changed).
set -euo pipefail
cd "$(dirname "$0")/.."

DB_URL="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
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
PG_SAMPLE="${BENCH_PG_SAMPLE:-1}"
PG_SAMPLE_SECS=10
FIXTURE=tests/fixtures/cat.jpg
BACKENDS=(sqlite postgres)
SCHEMA="assetd_tbench_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/assetd/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
BIN="$CARGO_TARGET_DIR/release"

log() { printf '== %s\n' "$*" >&2; }
warn() { printf '!! %s\n' "$*" >&2; }
die() {
    printf 'bench/backends.sh: %s\n' "$*" >&2
    exit 1
}

# ---- tools --------------------------------------------------------------------------------------
missing=()
for tool in wrk curl jq psql; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
missing=("${missing[@]/psql/postgresql-client}")
if ((${#missing[@]})); then
    log "installing ${missing[*]} (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
PG_VERSION="$(psql "$DB_URL" -Atc 'SHOW server_version' 2>&1)" ||
    die "cannot reach PostgreSQL at $DB_URL (set BENCH_DATABASE_URL): $PG_VERSION"
# The settings as a session of DB_URL sees them (a URL may carry ?options=-c%20synchronous_commit%3Doff).
PG_SETTINGS="$(psql "$DB_URL" -Atc "SELECT string_agg(n || '=' || current_setting(n), ', ')
    FROM unnest(ARRAY['synchronous_commit', 'fsync', 'shared_buffers']) AS n")"
# The postgres server's OS user (its CPU is accounted): the owner of the postmaster listening for us.
PG_USER="$(ps -o user= -p "$(pgrep -o -x postgres 2>/dev/null || echo 0)" 2>/dev/null | tr -d ' ' || true)"
[ -n "$PG_USER" ] || warn "no local postgres process found: PostgreSQL CPU is not accounted"

log "building assetd and bench_update (release)"
cargo build --release --locked --bin assetd --example bench_update

# ---- servers and cleanup ------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/assetd-bench-backends.XXXXXX")"
declare -A PID=() PORT=() BASE=()
SCHEMA_USED=0
SAMPLER_PID=""

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
    local status=$? b
    trap - EXIT INT TERM
    [ -z "$SAMPLER_PID" ] || kill "$SAMPLER_PID" 2>/dev/null || true
    for b in "${BACKENDS[@]}"; do stop_server "${PID[$b]:-}"; done
    if [ "$status" -ne 0 ]; then
        for b in "${BACKENDS[@]}"; do
            [ -s "$WORK/$b.log" ] || continue
            echo "--- last lines of the $b assetd log" >&2
            tail -n 30 "$WORK/$b.log" >&2 || true
        done
    fi
    if [ "$SCHEMA_USED" = 1 ]; then
        ASSETD_TEST_DATABASE_URL="$DB_URL" scripts/drop-test-schemas "$SCHEMA" ||
            warn "could not drop the schema $SCHEMA: drop it by hand (scripts/drop-test-schemas $SCHEMA)"
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

start_assetd() { # backend extra-env...
    local b="$1"
    shift
    PORT[$b]="$(free_port)"
    BASE[$b]="http://127.0.0.1:${PORT[$b]}"
    env ASSETD_LISTEN="127.0.0.1:${PORT[$b]}" ASSETD_DATA_DIR="$WORK/$b-data" ASSETD_API_TOKEN="$TOKEN" \
        ASSETD_RATE_LIMIT=0 RUST_LOG=warn "$@" "$BIN/assetd" serve >"$WORK/$b.log" 2>&1 &
    PID[$b]=$!
    wait_until_up "${BASE[$b]}/healthz" "${PID[$b]}" "assetd ($b)"
}
log "starting assetd on SQLite + local disk"
start_assetd sqlite
log "starting assetd on PostgreSQL (schema $SCHEMA) + local disk"
SCHEMA_USED=1
start_assetd postgres ASSETD_DATABASE_URL="$DB_URL" ASSETD_DATABASE_SCHEMA="$SCHEMA"
[ "$(psql "$DB_URL" -Atc "SELECT count(*) FROM pg_tables WHERE schemaname = '$SCHEMA'")" -gt 0 ] ||
    die "the postgres server created no tables in schema $SCHEMA: is it really on PostgreSQL?"
[ -e "$WORK/sqlite-data/assetd.db" ] || die "no SQLite file in the sqlite server's data dir: $(ls "$WORK/sqlite-data")"
[ ! -e "$WORK/postgres-data/assetd.db" ] || die "the postgres server made a SQLite file in its data dir"

CMA=(-H "Authorization: Bearer $TOKEN" -H "Accept: application/json" -H "X-Api-Version: 3")
JSON_API=(-H "Content-Type: application/vnd.api+json")

# ---- the uploads the update bench needs (the same in both) --------------------------------------
create_upload() { # backend n -> prints the upload id
    local base="${BASE[$1]}" request path url job code
    request="$(curl -sS --fail-with-body "${CMA[@]}" "${JSON_API[@]}" -X POST "$base/upload-requests" \
        -d "{\"data\":{\"type\":\"upload_request\",\"attributes\":{\"filename\":\"cat-$2.jpg\"}}}")"
    path="$(jq -er .data.id <<<"$request")"
    url="$(jq -er .data.attributes.url <<<"$request")"
    curl -sS --fail-with-body -X PUT --data-binary "@$FIXTURE" "$url" >/dev/null
    job="$(curl -sS --fail-with-body "${CMA[@]}" "${JSON_API[@]}" -X POST "$base/uploads" \
        -d "$(jq -nc --arg path "$path" '{data: {type: "upload", attributes: {path: $path}}}')" | jq -er .data.id)"
    for _ in $(seq 1 200); do
        code="$(curl -sS -o "$WORK/job.json" -w '%{http_code}' "${CMA[@]}" "$base/job-results/$job")"
        case "$code" in
        200)
            jq -e '.data.attributes.status == 200' "$WORK/job.json" >/dev/null ||
                die "creating upload $2 on $1 failed: $(cat "$WORK/job.json")"
            echo "$job" >"$WORK/$1.last_job"
            jq -er .data.attributes.payload.data.id "$WORK/job.json"
            return 0
            ;;
        404) sleep 0.05 ;;
        *) die "GET /job-results/$job on $1 answered $code: $(cat "$WORK/job.json")" ;;
        esac
    done
    die "upload $2 on $1 not created within 10 s"
}

declare -A IDS=() GET_ID=()
for b in "${BACKENDS[@]}"; do
    log "creating $CLIENTS uploads of $FIXTURE on $b"
    ids=()
    for n in $(seq 1 "$CLIENTS"); do
        ids+=("$(create_upload "$b" "$n")")
    done
    IDS[$b]="$(IFS=,; echo "${ids[*]}")"
    GET_ID[$b]="${ids[0]}"
done

# ---- CPU accounting -----------------------------------------------------------------------------
HZ="$(getconf CLK_TCK)"
machine_busy() { # jiffies all cores spent not idle since boot
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}
pid_cpu() { # pid -> utime + stime in jiffies (0 if gone)
    local stat f
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || { echo 0; return 0; }
    read -r -a f <<<"${stat##*) }"
    echo $((f[11] + f[12]))
}
pg_snapshot() { # -> "pid jiffies" lines for every process of the postgres OS user
    local pid
    [ -n "$PG_USER" ] || return 0
    for pid in $(pgrep -u "$PG_USER" 2>/dev/null); do
        echo "$pid $(pid_cpu "$pid")"
    done
}
pg_cpu_since() { # snapshot-file -> jiffies the postgres processes used since (new processes: all their time)
    local pid j total=0
    declare -A before=()
    while read -r pid j; do before[$pid]="$j"; done <"$1"
    while read -r pid j; do
        total=$((total + j - ${before[$pid]:-0}))
    done < <(pg_snapshot)
    echo "$total"
}
T0=""
B0=""
C0=""
phase_start() { # backend
    pg_snapshot >"$WORK/pg0.txt"
    B0="$(machine_busy)"
    C0="$(pid_cpu "${PID[$1]}")"
    T0="$(date +%s.%N)"
}
phase_end() { # backend ops-per-s -> JSON {wall_s, assetd_cores, assetd_ms_per_op, pg_cores, pg_ms_per_op, other_cpu_pct}
    local t1 b1 c1 pg
    t1="$(date +%s.%N)"
    c1="$(pid_cpu "${PID[$1]}")"
    b1="$(machine_busy)"
    pg="$(pg_cpu_since "$WORK/pg0.txt")"
    jq -nc --argjson t0 "$T0" --argjson t1 "$t1" --argjson b "$((b1 - B0))" --argjson a "$((c1 - C0))" --argjson pg "$pg" \
        --argjson hz "$HZ" --argjson cores "$(nproc)" --argjson rate "$2" '
        def r2: . * 100 | round / 100;
        ($t1 - $t0) as $w | ($a / $hz / $w) as $ac | ($pg / $hz / $w) as $pc
        | {wall_s: ($w | r2), assetd_cores: ($ac | r2), pg_cores: ($pc | r2),
           assetd_ms_per_op: (if $rate > 0 then ($ac * 1000 / $rate * 1000 | round / 1000) else null end),
           pg_ms_per_op: (if $rate > 0 then ($pc * 1000 / $rate * 1000 | round / 1000) else null end),
           other_cpu_pct: ([($b - $a - $pg) / $hz / ($w * $cores) * 100, 0] | max | round)}'
}
reset_peak() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || warn "cannot reset the peak RSS of pid $1"; }
peak_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
for b in "${BACKENDS[@]}"; do reset_peak "${PID[$b]}"; done

# ---- the rounds ---------------------------------------------------------------------------------
declare -A URL=()
TARGETS=(uploads)
for b in "${BACKENDS[@]}"; do
    URL[$b:uploads]="${BASE[$b]}/uploads/${GET_ID[$b]}"
    URL[$b:readyz]="${BASE[$b]}/readyz"
    URL[$b:job-result]="${BASE[$b]}/job-results/$(cat "$WORK/$b.last_job")"
done
[ "$BREAKDOWN" = 1 ] && TARGETS+=(readyz job-result)

run_update() { # backend round
    local out json cpu
    phase_start "$1"
    out="$("$BIN/examples/bench_update" --base-url "${BASE[$1]}" --ids "${IDS[$1]}" --clients "$CLIENTS" \
        --duration-secs "$UPDATE_SECS" --warmup-secs "$UPDATE_WARMUP" --max-updates "$UPDATE_MAX" \
        --poll-ms "$POLL_MS" 2>&1)" || {
        printf '%s\n' "$out" >&2
        die "bench_update failed on $1"
    }
    json="$(sed -n 's/^BENCH_JSON //p' <<<"$out")"
    [ -n "$json" ] || die "bench_update printed no BENCH_JSON line on $1: $out"
    cpu="$(phase_end "$1" "$(jq .updates_per_s <<<"$json")")"
    jq -c --arg b "$1" --argjson round "$2" --argjson cpu "$cpu" '. + {backend: $b, round: $round} + $cpu' <<<"$json" \
        >>"$WORK/update.jsonl"
    tail -n1 "$WORK/update.jsonl" | jq -r '"   \(.updates_per_s) updates/s, p50 \(.p50_ms) ms, p99 \(.p99_ms) ms, \(.errors) errors"' >&2
}

run_wrk() { # backend target round secs (round 0: warm-up, not recorded)
    local out json cpu
    phase_start "$1"
    out="$(BENCH_LABEL="$1" wrk -t "$WRK_THREADS" -c "$WRK_CONNS" -d "${4}s" -s bench/wrk_get.lua "${URL[$1:$2]}")"
    json="$(sed -n 's/^BENCH_JSON //p' <<<"$out")"
    [ -n "$json" ] || die "wrk printed no BENCH_JSON line: $out"
    cpu="$(phase_end "$1" "$(jq .requests_per_s <<<"$json")")"
    [ "$3" = 0 ] && return 0
    jq -c --arg b "$1" --arg t "$2" --argjson round "$3" --argjson cpu "$cpu" \
        '. + {backend: $b, target: $t, round: $round} + $cpu' <<<"$json" >>"$WORK/get.jsonl"
    tail -n1 "$WORK/get.jsonl" | jq -r '"   \(.requests_per_s) requests/s, p50 \(.p50_ms) ms, \(.errors | add) errors"' >&2
}

LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
: >"$WORK/update.jsonl"
: >"$WORK/get.jsonl"
log "wrk warm-up (2 s each target and backend, not recorded)"
for t in "${TARGETS[@]}"; do
    for b in "${BACKENDS[@]}"; do run_wrk "$b" "$t" 0 2; done
done
for round in $(seq 1 "$ROUNDS"); do
    for b in "${BACKENDS[@]}"; do
        log "round $round: seed update on $b ($CLIENTS clients, ${UPDATE_WARMUP} s warm-up + ${UPDATE_SECS} s, poll ${POLL_MS} ms)"
        run_update "$b" "$round"
    done
    for t in "${TARGETS[@]}"; do
        for b in "${BACKENDS[@]}"; do
            log "round $round: GET $t on $b (wrk -t$WRK_THREADS -c$WRK_CONNS -d${WRK_SECS}s)"
            run_wrk "$b" "$t" "$round" "$WRK_SECS"
        done
    done
done
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- where the postgres update waits (not counted) ----------------------------------------------
: >"$WORK/pg-samples.txt"
if [ "$PG_SAMPLE" = 1 ]; then
    log "an extra seed update on postgres (${UPDATE_WARMUP} s + ${PG_SAMPLE_SECS} s, not counted), pg_stat_activity sampled every 20 ms"
    # One psql session re-running the query (\watch); a 'tick' row per sample counts the samples.
    (
        sleep "$UPDATE_WARMUP"
        timeout "$PG_SAMPLE_SECS" psql "$DB_URL" -At -v ON_ERROR_STOP=1 <<'SQL' >"$WORK/pg-samples.txt" 2>"$WORK/pg-samples.err" || true
SELECT 'tick' UNION ALL
SELECT coalesce(wait_event_type || ':' || wait_event, 'running (no wait event)') || ' | '
       || left(regexp_replace(query, '\s+', ' ', 'g'), 72)
  FROM pg_stat_activity
 WHERE datname = current_database() AND backend_type = 'client backend' AND state = 'active' AND pid <> pg_backend_pid()
\watch 0.02
SQL
    ) &
    SAMPLER_PID=$!
    "$BIN/examples/bench_update" --base-url "${BASE[postgres]}" --ids "${IDS[postgres]}" --clients "$CLIENTS" \
        --duration-secs "$PG_SAMPLE_SECS" --warmup-secs "$UPDATE_WARMUP" --max-updates "$UPDATE_MAX" --poll-ms "$POLL_MS" \
        >"$WORK/sample-update.txt" 2>&1 || die "bench_update failed on postgres (sampled run): $(tail -n 5 "$WORK/sample-update.txt")"
    wait "$SAMPLER_PID" || true
    SAMPLER_PID=""
    TICKS="$(grep -cx tick "$WORK/pg-samples.txt" || true)"
    [ "${TICKS:-0}" -gt 0 ] || warn "pg_stat_activity sampling got no samples: $(head -c 300 "$WORK/pg-samples.err")"
fi
: >"$WORK/rss.jsonl"
for b in "${BACKENDS[@]}"; do
    kill -0 "${PID[$b]}" 2>/dev/null || die "the $b server died during the run"
    jq -nc --arg b "$b" --argjson kb "$(peak_kb "${PID[$b]}")" '{backend: $b, max_rss_kb: $kb}' >>"$WORK/rss.jsonl"
done
# Server-side trouble: anything at warn or error level in the logs.
LOG_ISSUES="$( (grep -hcE 'WARN|ERROR' "$WORK"/sqlite.log "$WORK"/postgres.log || true) | paste -sd/ -)"

# ---- summary ------------------------------------------------------------------------------------
summary() {
    echo "### Backends run finished $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "assetd $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (src/ modified)')," \
        "$(nproc) cores, $(rustc --version | cut -d' ' -f1-2), $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2)," \
        "PostgreSQL $PG_VERSION ($PG_SETTINGS) on the same machine over TCP loopback;" \
        "load average $LOAD_START at the start of the rounds, $LOAD_END at the end."
    echo "sqlite = SQLite (WAL, synchronous=NORMAL) + files on local disk; postgres = PostgreSQL schema $SCHEMA (fresh) +" \
        "files on local disk. Same binary, same settings (ASSETD_RATE_LIMIT=0, RUST_LOG=warn, defaults otherwise), same" \
        "$CLIENTS uploads of $FIXTURE; rounds interleave sqlite, postgres."
    echo
    echo "Seed update ($CLIENTS clients, 1 upload each, ${UPDATE_SECS} s after ${UPDATE_WARMUP} s warm-up, poll ${POLL_MS} ms):"
    echo
    echo "| round | backend | updates | errors | updates/s | p50 ms | p90 ms | p99 ms | max ms | 202 p50 ms | polls/update | assetd CPU ms/update | postgres CPU ms/update | other CPU % |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    jq -r '"| \(.round) | \(.backend) | \(.count) | \(.errors) | \(.updates_per_s) | \(.p50_ms) | \(.p90_ms) | \(.p99_ms) | \(.max_ms)"
        + " | \(.accepted_p50_ms) | \(.polls_per_update) | \(.assetd_ms_per_op) | \(.pg_ms_per_op) | \(.other_cpu_pct) |"' "$WORK/update.jsonl"
    echo
    echo "GET (wrk -t$WRK_THREADS -c$WRK_CONNS -d${WRK_SECS}s each): uploads = GET /uploads/{id}$([ "$BREAKDOWN" = 1 ] &&
        echo ", readyz = GET /readyz (no guard: one SELECT 1 + a stat of a missing file on local disk), job-result = GET /job-results/{id} (guard + one query)")." \
        "CPU columns in µs per request:"
    echo
    echo "| round | target | backend | requests/s | p50 ms | p90 ms | p99 ms | max ms | errors | assetd CPU µs/req | postgres CPU µs/req | other CPU % |"
    echo "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    jq -r 'def us: if . == null then "" else . * 1000 | round end;
        "| \(.round) | \(.target) | \(.backend) | \(.requests_per_s) | \(.p50_ms) | \(.p90_ms) | \(.p99_ms) | \(.max_ms)"
        + " | \(.errors | add) | \(.assetd_ms_per_op | us) | \(.pg_ms_per_op | us) | \(.other_cpu_pct) |"' "$WORK/get.jsonl"
    echo
    echo "Best of $ROUNDS round(s) (the round with the highest throughput of each backend) and postgres ÷ sqlite" \
        "(throughput: below 1 = PostgreSQL slower; latency: above 1 = PostgreSQL slower):"
    echo
    echo "| measure | sqlite | postgres | postgres ÷ sqlite | p50 sqlite → postgres ms | p99 sqlite → postgres ms | p50 ratio |"
    echo "|---|---:|---:|---:|---|---|---:|"
    jq -rs 'def r2: . * 100 | round / 100;
        (map({key: .backend, value: .}) | group_by(.key) | map(max_by(.value.updates_per_s)) | from_entries) as $u
        | "| seed update, updates/s | \($u.sqlite.updates_per_s) | \($u.postgres.updates_per_s)"
          + " | \($u.postgres.updates_per_s / $u.sqlite.updates_per_s | r2) | \($u.sqlite.p50_ms) → \($u.postgres.p50_ms)"
          + " | \($u.sqlite.p99_ms) → \($u.postgres.p99_ms) | \($u.postgres.p50_ms / $u.sqlite.p50_ms | r2) |"' "$WORK/update.jsonl"
    jq -rs 'def r2: . * 100 | round / 100;
        group_by(.target)[] | (group_by(.backend) | map({key: .[0].backend, value: max_by(.requests_per_s)}) | from_entries) as $g
        | "| GET \($g.sqlite.target), requests/s | \($g.sqlite.requests_per_s) | \($g.postgres.requests_per_s)"
          + " | \($g.postgres.requests_per_s / $g.sqlite.requests_per_s | r2) | \($g.sqlite.p50_ms) → \($g.postgres.p50_ms)"
          + " | \($g.sqlite.p99_ms) → \($g.postgres.p99_ms) | \($g.postgres.p50_ms / $g.sqlite.p50_ms | r2) |"' "$WORK/get.jsonl"
    echo
    echo "postgres ÷ sqlite within each round (throughput ratio; p50 ratio):"
    echo
    echo "| round | seed update | $(printf 'GET %s | ' "${TARGETS[@]}" | sed 's/ | $//') |"
    echo "|---:|---:|$(printf -- '---:|%.0s' "${TARGETS[@]}")"
    jq -rn --slurpfile u "$WORK/update.jsonl" --slurpfile g "$WORK/get.jsonl" --arg targets "${TARGETS[*]}" '
        def r2: . * 100 | round / 100;
        def pair($rows; $rate): ($rows | map({key: .backend, value: .}) | from_entries) as $p
            | "\($p.postgres[$rate] / $p.sqlite[$rate] | r2); \($p.postgres.p50_ms / $p.sqlite.p50_ms | r2)";
        ($u | group_by(.round))[] as $ur | $ur[0].round as $r
        | "| \($r) | \(pair($ur; "updates_per_s")) | "
          + ([$targets | split(" ")[] as $t | pair($g | map(select(.round == $r and .target == $t)); "requests_per_s")] | join(" | "))
          + " |"'
    echo
    echo "Peak RSS over the rounds$([ "$PG_SAMPLE" = 1 ] && echo " and the sampled run") (VmHWM, reset after the uploads):" \
        "$(jq -rs 'map("\(.backend) \(.max_rss_kb / 1024 | round) MiB") | join(", ")' "$WORK/rss.jsonl")." \
        "WARN/ERROR lines in the server logs (sqlite/postgres): $LOG_ISSUES."
    echo
    if [ "$PG_SAMPLE" = 1 ] && [ "${TICKS:-0}" -gt 0 ]; then
        echo "Where the postgres seed update waits: pg_stat_activity sampled every 20 ms during an extra ${PG_SAMPLE_SECS} s" \
            "update run on postgres (not in the tables above: $(sed -n 's/^BENCH_JSON //p' "$WORK/sample-update.txt" |
                jq -r '"\(.updates_per_s) updates/s, p50 \(.p50_ms) ms"')); $TICKS samples, on average" \
            "$(awk -v t="$TICKS" '$0 != "tick" && NF { n++ } END { printf "%.2f", n / t }' "$WORK/pg-samples.txt")" \
            "client backends of the database active in each (other clients of the database would show up too):"
        echo
        echo "| share of samples | wait event | statement |"
        echo "|---:|---|---|"
        grep -vx -e tick -e '' "$WORK/pg-samples.txt" | sort | uniq -c | sort -rn | head -n 10 |
            awk -v t="$TICKS" '{ n = $1; sub(/^ *[0-9]+ /, ""); split($0, f, / \| /);
                gsub(/\|/, "\\|", f[2]); printf "| %.1f %% | %s | `%s` |\n", 100 * n / t, f[1], f[2] }'
        echo
    fi
    echo "Commands (per backend, per round):"
    echo
    echo '```'
    echo "bench_update --base-url http://127.0.0.1:<port> --ids <$CLIENTS ids> --clients $CLIENTS --duration-secs $UPDATE_SECS --warmup-secs $UPDATE_WARMUP --max-updates $UPDATE_MAX --poll-ms $POLL_MS"
    echo "BENCH_TOKEN=<token> wrk -t$WRK_THREADS -c$WRK_CONNS -d${WRK_SECS}s -s bench/wrk_get.lua http://127.0.0.1:<port>/uploads/<id>   # and /readyz, /job-results/<id>"
    echo '```'
}
echo
summary | tee "${BENCH_SUMMARY:-/dev/null}"
for b in "${BACKENDS[@]}"; do
    if grep -qE 'WARN|ERROR' "$WORK/$b.log"; then
        warn "the $b server logged warnings or errors (first 10):"
        grep -E 'WARN|ERROR' "$WORK/$b.log" | head -n 10 >&2
    fi
done
if jq -se 'map(.errors | add) | add > 0' "$WORK/get.jsonl" >/dev/null; then
    die "wrk saw errors (non-2xx answers or socket errors): see the table"
fi
if jq -se 'map(.errors) | add > 0' "$WORK/update.jsonl" >/dev/null; then
    die "the update bench saw errors"
fi
