#!/usr/bin/env bash
# Transform throughput of one assetd node against three (issue 5, see BENCHMARKS.md "Scale-out"), all on
# PostgreSQL + S3-compatible storage: the 12 MP JPEG → ~720 px JPEG (q80) of bench/transform.sh, every request a
# new result (a new cache key).
#
# Setup: builds assetd in release; starts a throwaway s3s-fs (scripts/s3-server; stopped and removed at the end)
# and uses a fresh PostgreSQL schema assetd_tbench_<random hex> (dropped at the end) and a fresh prefix in the
# bucket; every node gets the same schema, bucket prefix, token and settings (ASSETD_RATE_LIMIT=0,
# RUST_LOG=warn, defaults otherwise: ASSETD_TRANSFORM_CONCURRENCY = one per core = 2 per node), its own port,
# temp data dir and ASSETD_PUBLIC_URL. The input is bench/transform's (bench/transform/gen-image.mjs, cached in
# BENCH_CACHE_DIR); COPIES copies with distinct bytes (a JPEG COM segment naming the copy, same pixels) are
# uploaded once through node 1 (POST /upload-requests → PUT to the presigned S3 URL → POST /uploads → poll the
# job result), plus a probe copy kept out of the sequence for the checks.
#
# Phases (each preceded by a warm-up, not counted):
#   A<c>: node 1 alone (nodes 2 and 3 not running), one wrk with c connections, for each c of BENCH_SINGLE_CONNS
#         (default 2: the concurrency of bench/transform.sh; 3 and 6: the total concurrency of the B phases);
#   B<c>: nodes 1, 2, 3 (2 and 3 started before the B phases of a round, stopped after them), three wrk at once,
#         one per node, with c connections each (total concurrency 3c), for each c of BENCH_NODE_CONNS (1 2);
#         their requests/s are added up.
# Rounds alternate the order to cancel linear drift: odd rounds A then B, even rounds B then A. The request sequence is bench/transform.sh's: request n asks
# for width 560 + (n mod 161) of copy floor(n / 161) mod COPIES, n counting on over every phase and round (the
# three wrk of B split it: starts n, n+1, n+2, step 3), so no key repeats; X-Cache is counted (a HIT fails the
# run, a phase running past the distinct pairs is flagged "exhausted").
# Accounted per phase: CPU of the nodes, of PostgreSQL (every process of its OS user: other clients of that
# server count too) and of s3s-fs, per transform, and the rest of the machine (wrk, other sessions) in % of all
# cores; the peak RSS of each node (VmHWM, reset before the phase).
# Checks before measuring: ?w=720&fm=jpg&q=80 of the probe copy answers a 720 px JPEG on node 1; in the first B
# phase, nodes 2 and 3 answer the same bytes for it (rendered once, by node 1, found in the shared store).
#
# Knobs (environment): BENCH_SECS (15), BENCH_WARMUP (3), BENCH_ROUNDS (2), BENCH_SINGLE_CONNS ("2 3 6"),
# BENCH_NODE_CONNS ("1 2"), BENCH_MAX_RATE (50: sizes COPIES), BENCH_COPIES (auto), BENCH_IMAGE_GRAIN (4),
# BENCH_CACHE_DIR (~/.cache/assetd/bench-transform), BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/test),
# BENCH_TRANSFORM_CONCURRENCY (unset: assetd's default, one transform per core; else given to every node as
# ASSETD_TRANSFORM_CONCURRENCY), BENCH_SUMMARY (a file to also write the markdown summary to), ASSETD_PROJECT_ID (1). ~4.5 min with the defaults
# (plus the build when src/ changed).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS="${BENCH_SECS:-15}"
WARMUP="${BENCH_WARMUP:-3}"
ROUNDS="${BENCH_ROUNDS:-2}"
read -r -a SINGLE_CONNS <<<"${BENCH_SINGLE_CONNS:-2 3 6}"
read -r -a NODE_CONNS <<<"${BENCH_NODE_CONNS:-1 2}"
MAX_RATE="${BENCH_MAX_RATE:-50}"
GRAIN="${BENCH_IMAGE_GRAIN:-4}"
CACHE_DIR="${BENCH_CACHE_DIR:-$HOME/.cache/assetd/bench-transform}"
DB_URL="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
PROJECT_ID="${ASSETD_PROJECT_ID:-1}"
TRANSFORM_CONCURRENCY="${BENCH_TRANSFORM_CONCURRENCY:-}"
NODES=3
QUALITY=80
WMIN=560
WCOUNT=161
WMAX=$((WMIN + WCOUNT - 1))
IMG_W=4000
IMG_H=3000
IMG_Q=90
PHASES_PER_ROUND=$((${#SINGLE_CONNS[@]} + ${#NODE_CONNS[@]}))
COPIES="${BENCH_COPIES:-$(((MAX_RATE * (SECS + WARMUP) * PHASES_PER_ROUND * ROUNDS + WCOUNT - 1) / WCOUNT + 1))}"
HERE=bench/transform
WRK_TIMEOUT=30s
TEMPLATE="{file}?w={w}&fm=jpg&q=$QUALITY"
HEX="$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
SCHEMA="assetd_tbench_$HEX"
PREFIX="bench-nodes-$HEX"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/assetd/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
BIN="$CARGO_TARGET_DIR/release/assetd"

log() { printf '== %s\n' "$*" >&2; }
warn() { printf '!! %s\n' "$*" >&2; }
die() {
    printf 'bench/nodes.sh: %s\n' "$*" >&2
    exit 1
}
((${#SINGLE_CONNS[@]} && ${#NODE_CONNS[@]})) || die "BENCH_SINGLE_CONNS and BENCH_NODE_CONNS need at least one value each"
for c in "${SINGLE_CONNS[@]}" "${NODE_CONNS[@]}" ${TRANSFORM_CONCURRENCY:+"$TRANSFORM_CONCURRENCY"}; do
    [[ "$c" =~ ^[1-9][0-9]*$ ]] || die "connections and concurrency must be positive integers, got '$c' (BENCH_SINGLE_CONNS, BENCH_NODE_CONNS, BENCH_TRANSFORM_CONCURRENCY)"
done

# ---- tools --------------------------------------------------------------------------------------
missing=()
for tool in wrk curl jq psql; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
missing=("${missing[@]/psql/postgresql-client}")
command -v node >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
    log "installing ${missing[*]} (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
PG_VERSION="$(psql "$DB_URL" -Atc 'SHOW server_version' 2>&1)" ||
    die "cannot reach PostgreSQL at $DB_URL (set BENCH_DATABASE_URL): $PG_VERSION"
PG_USER="$(ps -o user= -p "$(pgrep -o -x postgres 2>/dev/null || echo 0)" 2>/dev/null | tr -d ' ' || true)"
[ -n "$PG_USER" ] || warn "no local postgres process found: PostgreSQL CPU is not accounted"
# gen-image.mjs and the size probe need sharp (bench/transform's package-lock.json).
if ! (cd "$HERE" && node -e 'const fs = require("fs"), read = (f) => JSON.parse(fs.readFileSync(f, "utf8"));
    process.exit(read("node_modules/sharp/package.json").version === read("package-lock.json").packages["node_modules/sharp"].version ? 0 : 1)') 2>/dev/null; then
    log "installing sharp into $HERE/node_modules (npm ci)"
    (cd "$HERE" && npm ci --no-audit --no-fund >&2)
fi

log "building assetd (release)"
cargo build --release --locked --bin assetd
[ -x "$BIN" ] || die "no assetd binary at $BIN"

# ---- the input ----------------------------------------------------------------------------------
mkdir -p "$CACHE_DIR"
INPUT="$CACHE_DIR/input-${IMG_W}x${IMG_H}-q${IMG_Q}-grain${GRAIN}.jpg"
if [ ! -s "$INPUT" ]; then
    log "generating the input image $INPUT"
    node "$HERE/gen-image.mjs" "$INPUT.tmp" "$IMG_W" "$IMG_H" "$IMG_Q" "$GRAIN" >&2
    mv "$INPUT.tmp" "$INPUT"
fi
INPUT_BYTES="$(wc -c <"$INPUT")"

# ---- cleanup ------------------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/assetd-bench-nodes.XXXXXX")"
declare -A PID=() PORT=() BASE=()
S3S_PID=""
S3S_DIR=""
SCHEMA_USED=0

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
    local status=$? k f
    trap - EXIT INT TERM
    for k in $(seq 1 "$NODES"); do stop_server "${PID[$k]:-}"; done
    if [ "$status" -ne 0 ]; then
        for f in "$WORK"/node-*.log; do
            [ -s "$f" ] || continue
            echo "--- last lines of $(basename "$f")" >&2
            tail -n 30 "$f" >&2 || true
        done
        [ -n "$S3S_DIR" ] && [ -s "$S3S_DIR.log" ] && { echo "--- last lines of the s3s-fs log" >&2; tail -n 10 "$S3S_DIR.log" >&2; }
    fi
    if [ -n "$S3S_PID" ]; then
        kill "$S3S_PID" 2>/dev/null || true
        wait "$S3S_PID" 2>/dev/null || true
    fi
    [ -n "$S3S_DIR" ] && rm -rf "$S3S_DIR" "$S3S_DIR.log"
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

# ---- the copies ---------------------------------------------------------------------------------
# copy-NNNN.jpg: the input with a COM segment "assetd bench copy NNNN" right after SOI (as bench/transform.sh
# makes them): each copy has its own bytes, hence its own uploads and cache keys, and decodes to the same pixels.
make_copy() { # name
    local text="assetd bench copy $1" len
    len=$((${#text} + 2))
    {
        head -c 2 "$INPUT"
        printf "\\xff\\xfe\\x$(printf %02x $((len >> 8)))\\x$(printf %02x $((len & 255)))%s" "$text"
        tail -c +3 "$INPUT"
    } >"$WORK/images/copy-$1.jpg"
}
mkdir -p "$WORK/images"
log "making $COPIES copies of the input (${INPUT_BYTES} bytes)"
for c in $(seq 0 $((COPIES - 1))); do make_copy "$(printf %04d "$c")"; done
make_copy probe
[ "$(md5sum "$WORK"/images/*.jpg | cut -d' ' -f1 | sort -u | wc -l)" = $((COPIES + 1)) ] || die "the copies are not all distinct"

probe() { # file -> {"format","width","height","size"} (sharp's metadata)
    (cd "$HERE" && node -e '
        const sharp = require("sharp"), fs = require("fs");
        sharp(process.argv[1]).metadata().then((m) => console.log(JSON.stringify(
            { format: m.format, width: m.width, height: m.height, size: fs.statSync(process.argv[1]).size })),
            () => console.log(JSON.stringify({ format: "unreadable", width: 0, height: 0, size: fs.statSync(process.argv[1]).size })));
    ' "$1")
}

# ---- S3 and the nodes ---------------------------------------------------------------------------
log "starting s3s-fs (scripts/s3-server)"
S3_ENV="$(scripts/s3-server)" || die "scripts/s3-server failed"
eval "$S3_ENV"
[ -n "${S3S_PID:-}" ] && [ -n "${ASSETD_TEST_STORAGE_URL:-}" ] || die "scripts/s3-server printed no S3S_PID / ASSETD_TEST_STORAGE_URL"
# s3://bucket?query → s3://bucket/<prefix>?query
STORAGE_URL="$(sed -E "s#^(s3://[^/?]+)#\\1/$PREFIX#" <<<"$ASSETD_TEST_STORAGE_URL")"
[[ "$STORAGE_URL" == s3://*/"$PREFIX"\?* ]] || die "unexpected storage URL $STORAGE_URL (from $ASSETD_TEST_STORAGE_URL)"
S3S_VERSION="$( ("$(readlink -f "/proc/$S3S_PID/exe")" --version 2>/dev/null || echo s3s-fs) | head -n1)"

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
start_node() { # k
    local k="$1"
    [ -n "${PORT[$k]:-}" ] || PORT[$k]="$(free_port)"
    BASE[$k]="http://127.0.0.1:${PORT[$k]}"
    ASSETD_LISTEN="127.0.0.1:${PORT[$k]}" ASSETD_DATA_DIR="$WORK/node-$k" ASSETD_PUBLIC_URL="${BASE[$k]}" \
        ASSETD_DATABASE_URL="$DB_URL" ASSETD_DATABASE_SCHEMA="$SCHEMA" ASSETD_STORAGE_URL="$STORAGE_URL" \
        ASSETD_API_TOKEN="$TOKEN" ASSETD_PROJECT_ID="$PROJECT_ID" ASSETD_RATE_LIMIT=0 RUST_LOG=warn \
        env ${TRANSFORM_CONCURRENCY:+ASSETD_TRANSFORM_CONCURRENCY="$TRANSFORM_CONCURRENCY"} "$BIN" serve >>"$WORK/node-$k.log" 2>&1 &
    PID[$k]=$!
    wait_until_up "${BASE[$k]}/healthz" "${PID[$k]}" "node $k"
    curl -sS --fail -o /dev/null "${BASE[$k]}/readyz" || die "node $k is not ready: $(curl -sS "${BASE[$k]}/readyz")"
}
stop_node() { # k
    stop_server "${PID[$1]:-}"
    PID[$1]=""
}

log "starting node 1 (PostgreSQL schema $SCHEMA, $STORAGE_URL)"
SCHEMA_USED=1
start_node 1
[ "$(psql "$DB_URL" -Atc "SELECT count(*) FROM pg_tables WHERE schemaname = '$SCHEMA'")" -gt 0 ] ||
    die "node 1 created no tables in schema $SCHEMA"

CMA=(-H "Authorization: Bearer $TOKEN" -H "Accept: application/json" -H "X-Api-Version: 3")
JSON_API=(-H "Content-Type: application/vnd.api+json")
upload() { # file name -> prints the upload's public path (/<project>/<...>); through node 1
    local base="${BASE[1]}" request path url job code id
    request="$(curl -sS --fail-with-body "${CMA[@]}" "${JSON_API[@]}" -X POST "$base/upload-requests" \
        -d "$(jq -nc --arg name "$2" '{data: {type: "upload_request", attributes: {filename: $name}}}')")"
    path="$(jq -er .data.id <<<"$request")"
    url="$(jq -er .data.attributes.url <<<"$request")"
    curl -sS --fail-with-body -X PUT --data-binary "@$1" "$url" >/dev/null
    job="$(curl -sS --fail-with-body "${CMA[@]}" "${JSON_API[@]}" -X POST "$base/uploads" \
        -d "$(jq -nc --arg path "$path" '{data: {type: "upload", attributes: {path: $path}}}')" | jq -er .data.id)"
    for _ in $(seq 1 600); do
        code="$(curl -sS -o "$WORK/job.json" -w '%{http_code}' "${CMA[@]}" "$base/job-results/$job")"
        case "$code" in
        200)
            jq -e '.data.attributes.status == 200' "$WORK/job.json" >/dev/null ||
                die "uploading $2 failed: $(cat "$WORK/job.json")"
            id="$(jq -er .data.attributes.payload.data.id "$WORK/job.json")"
            url="$(curl -sS --fail-with-body "${CMA[@]}" "$base/uploads/$id" | jq -er .data.attributes.url)"
            [ "${url#"$base"/}" != "$url" ] || die "upload $id has url $url, not under $base"
            echo "${url#"$base"}"
            return 0
            ;;
        404) sleep 0.05 ;;
        *) die "GET /job-results/$job answered $code: $(cat "$WORK/job.json")" ;;
        esac
    done
    die "upload of $2 not done within 30 s"
}
log "uploading the $COPIES copies and the probe copy through node 1 (S3 presigned PUTs)"
t0="$(date +%s.%N)"
: >"$WORK/files.txt"
for c in $(seq 0 $((COPIES - 1))); do
    name="copy-$(printf %04d "$c").jpg"
    upload "$WORK/images/$name" "$name" >>"$WORK/files.txt"
done
PROBE_PATH="$(upload "$WORK/images/copy-probe.jpg" copy-probe.jpg)"
UPLOAD_SECS="$(awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.1f", t1 - t0 }')"
[ "$(sort -u "$WORK/files.txt" | wc -l)" = "$COPIES" ] || die "the uploads do not have distinct paths"

PROBE_URL="$PROBE_PATH?w=$WMAX&fm=jpg&q=$QUALITY"
headers="$(curl -sS -D - -o "$WORK/probe-1.jpg" -w 'status=%{http_code}\n' "${BASE[1]}$PROBE_URL")"
got="$(probe "$WORK/probe-1.jpg")"
grep -q '^status=200$' <<<"$headers" && jq -e --argjson w "$WMAX" '.format == "jpeg" and .width == $w' <<<"$got" >/dev/null ||
    die "node 1 does not transform: $PROBE_URL answered $(grep '^status=' <<<"$headers"), $got"

# ---- accounting ---------------------------------------------------------------------------------
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
    for pid in $(pgrep -u "$PG_USER" 2>/dev/null); do echo "$pid $(pid_cpu "$pid")"; done
}
pg_cpu_since() { # snapshot-file -> jiffies the postgres processes used since (new processes: all their time)
    local pid j total=0
    declare -A before=()
    while read -r pid j; do before[$pid]="$j"; done <"$1"
    while read -r pid j; do total=$((total + j - ${before[$pid]:-0})); done < <(pg_snapshot)
    echo "$total"
}
reset_peak() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || warn "cannot reset the peak RSS of pid $1"; }
peak_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
nodes_cpu() { # node numbers... -> their jiffies
    local k total=0
    for k in "$@"; do total=$((total + $(pid_cpu "${PID[$k]}"))); done
    echo "$total"
}

# ---- the phases ---------------------------------------------------------------------------------
NEXT=0
wrk_node() { # k conns start step phase round secs -> BENCH_JSON line
    BENCH_XCACHE=1 BENCH_ENGINE="node$1" BENCH_FORMAT=jpeg BENCH_PHASE="$5" BENCH_ROUND="$6" BENCH_LABEL="$5-node$1" \
        BENCH_START="$3" BENCH_STEP="$4" BENCH_FILES="$WORK/files.txt" BENCH_TEMPLATE="$TEMPLATE" \
        BENCH_WMIN="$WMIN" BENCH_WCOUNT="$WCOUNT" \
        wrk -t1 -c"$2" -d"${7}s" --timeout "$WRK_TIMEOUT" -s "$HERE/wrk.lua" "${BASE[$1]}" | sed -n 's/^BENCH_JSON //p'
}

run_phase() { # phase conns-per-node round secs nodes... (round 0: warm-up, not recorded)
    local phase="$1" conns="$2" round="$3" secs="$4" k n b0 c0 s0 t0 cpu
    shift 4
    local nodes=("$@") pids=()
    n=${#nodes[@]}
    for k in "${nodes[@]}"; do reset_peak "${PID[$k]}"; done
    pg_snapshot >"$WORK/pg0.txt"
    b0="$(machine_busy)"
    c0="$(nodes_cpu "${nodes[@]}")"
    s0="$(pid_cpu "$S3S_PID")"
    t0="$(date +%s.%N)"
    for i in "${!nodes[@]}"; do
        wrk_node "${nodes[$i]}" "$conns" "$((NEXT + i))" "$n" "$phase" "$round" "$secs" >"$WORK/wrk-$i.json" &
        pids+=($!)
    done
    for i in "${!pids[@]}"; do wait "${pids[$i]}" || die "wrk against node ${nodes[$i]} failed"; done
    for i in "${!nodes[@]}"; do
        [ -s "$WORK/wrk-$i.json" ] || die "wrk against node ${nodes[$i]} printed no BENCH_JSON line"
    done
    NEXT="$(jq -s 'map(.next_index) | max' "$WORK"/wrk-*.json)"
    cpu="$(jq -nc --argjson t0 "$t0" --argjson t1 "$(date +%s.%N)" --argjson b "$(($(machine_busy) - b0))" \
        --argjson a "$(($(nodes_cpu "${nodes[@]}") - c0))" --argjson pg "$(pg_cpu_since "$WORK/pg0.txt")" \
        --argjson s3 "$(($(pid_cpu "$S3S_PID") - s0))" --argjson hz "$HZ" --argjson cores "$(nproc)" \
        '{wall_s: ($t1 - $t0), nodes_j: $a, pg_j: $pg, s3_j: $s3, busy_pct: ($b / $hz / (($t1 - $t0) * $cores) * 100 | round),
          other_cpu_pct: ([($b - $a - $pg - $s3) / $hz / (($t1 - $t0) * $cores) * 100, 0] | max | round)}')"
    local rss="{}"
    for k in "${nodes[@]}"; do
        rss="$(jq -c --arg k "$k" --argjson kb "$(peak_kb "${PID[$k]}")" '. + {("node" + $k): $kb}' <<<"$rss")"
    done
    [ "$round" = 0 ] && { rm -f "$WORK"/wrk-*.json; return 0; }
    jq -sc --arg phase "$phase" --argjson round "$round" --argjson conns "$conns" --argjson cpu "$cpu" --argjson rss "$rss" \
        --argjson hz "$HZ" '
        def r2: . * 100 | round / 100;
        (map(.requests) | add) as $ops | (map(.duration_s) | max) as $d
        | {phase: $phase, round: $round, nodes: length, conns_per_node: $conns, total_conns: ($conns * length),
           ops_per_s: (map(.requests_per_s) | add | r2), ops: $ops, duration_s: $d,
           per_node_ops_per_s: map(.requests_per_s | r2),
           mean_bytes: ((map(.bytes) | add) / ([$ops, 1] | max) | round),
           p50_ms: (map(.p50_ms) | add / length | r2), p99_ms: (map(.p99_ms) | max | r2),
           errors: (map(.errors | add) | add), exhausted: (map(.exhausted) | add),
           x_cache: {hit: (map(.x_cache.hit) | add), miss: (map(.x_cache.miss) | add), other: (map(.x_cache.other) | add)},
           cpu_ms_per_op: (if $ops > 0 then {
               nodes: ($cpu.nodes_j * 1000 / $hz / $ops | . * 10 | round / 10),
               postgres: ($cpu.pg_j * 1000 / $hz / $ops | . * 10 | round / 10),
               s3s: ($cpu.s3_j * 1000 / $hz / $ops | . * 10 | round / 10)} else null end),
           busy_pct: $cpu.busy_pct, other_cpu_pct: $cpu.other_cpu_pct, peak_rss_kb: $rss}' "$WORK"/wrk-*.json >>"$WORK/results.jsonl"
    rm -f "$WORK"/wrk-*.json
    tail -n1 "$WORK/results.jsonl" | jq -r '"   \(.ops_per_s) transforms/s (\(.per_node_ops_per_s | map(tostring) | join(" + "))), \(.errors) errors, X-Cache \(.x_cache.miss) MISS \(.x_cache.hit) HIT"' >&2
}

CHECKED_SHARED=0
start_others() {
    local k
    for k in $(seq 2 "$NODES"); do start_node "$k"; done
    if [ "$CHECKED_SHARED" = 0 ]; then
        # Rendered once by node 1 above: the other nodes find it in the shared store and answer its bytes.
        for k in $(seq 2 "$NODES"); do
            curl -sS --fail -D "$WORK/probe-$k.h" -o "$WORK/probe-$k.jpg" "${BASE[$k]}$PROBE_URL" || die "node $k: GET $PROBE_URL failed"
            cmp -s "$WORK/probe-1.jpg" "$WORK/probe-$k.jpg" || die "node $k answers other bytes than node 1 for $PROBE_URL"
            SHARED_XCACHE+="node $k $(grep -i '^x-cache:' "$WORK/probe-$k.h" | cut -d: -f2- | tr -d ' \r'), "
        done
        CHECKED_SHARED=1
    fi
}
SHARED_XCACHE=""
: >"$WORK/results.jsonl"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
phases_a() { # round
    local c
    for c in "${SINGLE_CONNS[@]}"; do
        log "round $1: phase A$c: node 1 alone, wrk -c$c (${WARMUP} s warm-up + ${SECS} s)"
        run_phase "A$c" "$c" 0 "$WARMUP" 1
        run_phase "A$c" "$c" "$1" "$SECS" 1
    done
}
phases_b() { # round
    local c k
    log "round $1: starting nodes 2..$NODES"
    start_others
    for c in "${NODE_CONNS[@]}"; do
        log "round $1: phase B$c: $NODES nodes, $NODES wrk -c$c at once (${WARMUP} s warm-up + ${SECS} s)"
        run_phase "B$c" "$c" 0 "$WARMUP" $(seq 1 "$NODES")
        run_phase "B$c" "$c" "$1" "$SECS" $(seq 1 "$NODES")
    done
    for k in $(seq 2 "$NODES"); do
        kill -0 "${PID[$k]}" 2>/dev/null || die "node $k died during the B phases"
        stop_node "$k"
    done
}
for round in $(seq 1 "$ROUNDS"); do
    if ((round % 2)); then
        phases_a "$round"
        phases_b "$round"
    else
        phases_b "$round"
        phases_a "$round"
    fi
done
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"
kill -0 "${PID[1]}" 2>/dev/null || die "node 1 died during the run"
RENDERED="$(psql "$DB_URL" -Atc "SELECT count(*) FROM \"$SCHEMA\".derived_images" 2>/dev/null || echo '?')"
LOG_ISSUES="$( (grep -cE 'WARN|ERROR' "$WORK"/node-*.log || true) | sed 's#.*/##' | paste -sd' ' -)"

# ---- summary ------------------------------------------------------------------------------------
summary() {
    echo "### Nodes run finished $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "assetd $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (src/ modified)')," \
        "$(nproc) cores, PostgreSQL $PG_VERSION (schema $SCHEMA), $S3S_VERSION on loopback (bucket prefix $PREFIX)," \
        "$(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2); load average $LOAD_START at the start of the rounds, $LOAD_END at the end."
    echo "Input: ${IMG_W}×${IMG_H} baseline JPEG, q$IMG_Q, $INPUT_BYTES bytes (bench/transform/gen-image.mjs, grain $GRAIN)," \
        "$COPIES copies + a probe copy uploaded through node 1 in $UPLOAD_SECS s. Each request: width 560 + (n mod 161) px" \
        "of copy floor(n / 161), JPEG q$QUALITY, a new cache key; ${WARMUP} s warm-up + ${SECS} s a phase, $ROUNDS round(s)," \
        "phases $(printf 'A%s ' "${SINGLE_CONNS[@]}")(node 1 alone) and $(printf 'B%s ' "${NODE_CONNS[@]}")($NODES nodes," \
        "c connections each), A first in odd rounds, B first in even rounds."
    echo "Every node: ASSETD_TRANSFORM_CONCURRENCY ${TRANSFORM_CONCURRENCY:-default (one per core: $(nproc))}, the same schema, bucket prefix and token." \
        "Probe ?w=$WMAX on nodes 2..$NODES after node 1 rendered it: same bytes, X-Cache ${SHARED_XCACHE%, }."
    echo
    echo "Every round:"
    echo
    echo "| round | phase | nodes | total connections | transforms/s | per node | ops | p50 ms | p99 ms | errors | X-Cache | CPU ms/op nodes | postgres | s3s-fs | machine busy % | other CPU % | exhausted |"
    echo "|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"
    jq -r '"| \(.round) | \(.phase) | \(.nodes) | \(.total_conns) | \(.ops_per_s) | \(.per_node_ops_per_s | map(tostring) | join(" + "))"
        + " | \(.ops) | \(.p50_ms) | \(.p99_ms) | \(.errors) | \(.x_cache.miss) MISS, \(.x_cache.hit) HIT"
        + " | \(.cpu_ms_per_op.nodes) | \(.cpu_ms_per_op.postgres) | \(.cpu_ms_per_op.s3s) | \(.busy_pct) | \(.other_cpu_pct) | \(.exhausted) |"' \
        "$WORK/results.jsonl"
    echo
    echo "Best of $ROUNDS round(s) (the highest transforms/s of each phase); ratios of these best figures to node 1" \
        "alone with ${SINGLE_CONNS[0]} connections and, for the $NODES-node phases, to node 1 alone at the same total concurrency:"
    echo
    echo "| phase | nodes | total connections | transforms/s | ÷ A${SINGLE_CONNS[0]} | ÷ one node, same concurrency | p50 ms | p99 ms | peak RSS MiB per node (max over rounds) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
    jq -rs --arg base "A${SINGLE_CONNS[0]}" 'def r2: . * 100 | round / 100;
        (group_by(.phase) | map(max_by(.ops_per_s))) as $best
        | ($best | map({key: .phase, value: .}) | from_entries) as $by
        | ($best | map(select(.nodes == 1) | {key: (.total_conns | tostring), value: .ops_per_s}) | from_entries) as $one
        | ($best | sort_by(.nodes, .total_conns))[] as $b
        | (map(select(.phase == $b.phase) | .peak_rss_kb | to_entries) | add | group_by(.key)
            | map("\(.[0].key) \(map(.value) | max / 1024 | round)") | join(", ")) as $rss
        | "| \($b.phase) | \($b.nodes) | \($b.total_conns) | \($b.ops_per_s) | \($b.ops_per_s / $by[$base].ops_per_s | r2)"
          + " | \(if $b.nodes > 1 and $one[$b.total_conns | tostring] then ($b.ops_per_s / $one[$b.total_conns | tostring] | r2) else "" end)"
          + " | \($b.p50_ms) | \($b.p99_ms) | \($rss) |"' "$WORK/results.jsonl"
    echo
    echo "$NODES nodes ÷ one node at the same total concurrency, within each round: $(jq -rs 'def r2: . * 100 | round / 100;
        group_by(.round) | map(.[0].round as $r
            | (map(select(.nodes == 1) | {key: (.total_conns | tostring), value: .ops_per_s}) | from_entries) as $one
            | "round \($r): " + ([.[] | select(.nodes > 1) | select($one[.total_conns | tostring])
                | "\(.phase) ÷ A\(.total_conns) \(.ops_per_s / $one[.total_conns | tostring] | r2)"] | join(", ")))
        | join("; ")' "$WORK/results.jsonl")."
    echo
    echo "CPU ms/op: the nodes' own CPU (all of them), PostgreSQL's (all its processes) and s3s-fs's, per transform" \
        "(the phase's CPU ÷ the requests wrk completed); machine busy %: all CPU time of the machine (steal included)" \
        "in % of $(nproc) cores; other CPU %: the part of it not used by the nodes, PostgreSQL or s3s-fs (wrk, other sessions). Peak RSS: VmHWM of each node" \
        "over the phase (reset before it; nodes 2..$NODES are new processes in each B). Derived images rendered in the" \
        "schema at the end: $RENDERED. WARN/ERROR lines in the node logs: $LOG_ISSUES."
    echo
    echo "Commands (per phase):"
    echo
    echo '```'
    echo "ASSETD_LISTEN=127.0.0.1:<port k> ASSETD_DATA_DIR=<temp dir k> ASSETD_PUBLIC_URL=http://127.0.0.1:<port k> ASSETD_DATABASE_URL=$DB_URL ASSETD_DATABASE_SCHEMA=$SCHEMA ASSETD_STORAGE_URL='s3://assetd-test/$PREFIX?endpoint=…&region=us-east-1' ASSETD_API_TOKEN=<token> ASSETD_PROJECT_ID=$PROJECT_ID ASSETD_RATE_LIMIT=0 RUST_LOG=warn${TRANSFORM_CONCURRENCY:+ ASSETD_TRANSFORM_CONCURRENCY=$TRANSFORM_CONCURRENCY} $BIN serve   # node k"
    for c in "${SINGLE_CONNS[@]}"; do
        echo "BENCH_XCACHE=1 BENCH_FILES=<upload paths> BENCH_TEMPLATE='$TEMPLATE' BENCH_START=<n> BENCH_STEP=1 wrk -t1 -c$c -d${SECS}s --timeout $WRK_TIMEOUT -s $HERE/wrk.lua http://127.0.0.1:<port 1>   # A$c"
    done
    for c in "${NODE_CONNS[@]}"; do
        echo "BENCH_XCACHE=1 BENCH_FILES=<upload paths> BENCH_TEMPLATE='$TEMPLATE' BENCH_START=<n+k-1> BENCH_STEP=$NODES wrk -t1 -c$c -d${SECS}s --timeout $WRK_TIMEOUT -s $HERE/wrk.lua http://127.0.0.1:<port k>   # B$c: k = 1..$NODES at once"
    done
    echo '```'
}
echo
summary | tee "${BENCH_SUMMARY:-/dev/null}"
for f in "$WORK"/node-*.log; do
    if grep -qE 'WARN|ERROR' "$f"; then
        warn "$(basename "$f") has warnings or errors (first 10):"
        grep -E 'WARN|ERROR' "$f" | head -n 10 >&2
    fi
done
if jq -se 'map(.errors) | add > 0' "$WORK/results.jsonl" >/dev/null; then
    die "some requests failed (non-2xx answers or socket errors): see the table"
fi
if jq -se 'map(.x_cache.hit) | add > 0' "$WORK/results.jsonl" >/dev/null; then
    die "a node answered X-Cache: HIT: the sequence repeated a key (see the table)"
fi
if jq -se 'map(.exhausted) | add > 0' "$WORK/results.jsonl" >/dev/null; then
    die "a phase ran past the distinct (copy, width) pairs: raise BENCH_COPIES or BENCH_MAX_RATE"
fi
