#!/usr/bin/env bash
# The image transform benchmark: a 12 MP JPEG (4000×3000) to a ~720 px wide JPEG and WebP at q80, every
# request a new result (a new cache key), measured side by side in the same run with
#   - sharp 0.35 in process (npm; two async workers = concurrency 2, sharp's defaults otherwise; libvips'
#     operation cache off so that every operation reads and decodes its file): bench/transform/sharp-run.mjs;
#   - thumbor over HTTP (pip, pinned in bench/transform/thumbor-requirements.txt; PIL engine, file loader,
#     no storage, no result storage): two processes on two ports, one wrk connection each;
#   - assetd over HTTP: GET /<project>/<file>?w=<w>&fm=jpg|webp&q=80 with wrk, 2 connections;
# all given both cores and a total concurrency of 2. Then assetd's cached hits (a fixed small set of derived
# URLs, all requested before) against a plain file of the same bytes as a derived 720 px JPEG, uploaded as a
# file of its own. Rounds interleave the engines (the machine is noisy); the summary gives every round and
# the best of the rounds (the highest ops/s of each engine × format), and the ratios use those best figures.
#
# The request sequence, shared by every engine so that they do the same work: request n of a phase
# (n counts on across warm-ups and rounds, separately for each engine × format) asks for
#     width w = 560 + (n mod 161)           (560..720 px; the height follows the aspect ratio: 420..540)
#     of copy c = floor(n / 161) mod COPIES  (copy-NNNN.jpg: the input with a JPEG COM segment naming it)
# so no (copy, width, format) repeats while n < 161 × COPIES, and no cache can hit in an uncached phase.
# COPIES defaults to enough for BENCH_MAX_RATE requests/s over all warm-ups and rounds; a phase that runs
# past the end is flagged in the summary ("exhausted").
#
# What the assetd part assumes: the copies are uploaded as bench/run.sh does (POST /upload-requests, PUT to its
# url, POST /uploads, poll GET /job-results/{job}), and GET /uploads/{id} gives data.attributes.url, the public
# URL under ASSETD_PUBLIC_URL. A transform is GET <that path>?w=<px>&fm=jpg|webp&q=80 answering 200 with
# Content-Type image/jpeg|image/webp and an image exactly <px> wide. Before measuring, ?w=720 of a probe copy is
# checked for that: an assetd that ignores the parameters (the original comes back) gets a warning in the
# summary and no figures for that format (BENCH_ASSETD_FORCE=1 measures it anyway). Its X-Cache header (MISS:
# rendered for this request, HIT: from the cache of derived images) is counted in the uncached phases (a HIT
# there fails the run) and checked on the cached set before the cached phase (all HIT, or a warning).
#
# Knobs (environment): BENCH_SECS (20: each measured phase), BENCH_WARMUP (3: before each phase, not
# counted), BENCH_ROUNDS (2), BENCH_ENGINES ("sharp thumbor assetd"), BENCH_FORMATS ("jpeg webp"),
# BENCH_CACHED_SECS (10: the cached and plain-file phases), BENCH_CACHED_SET (8: derived URLs the cached
# phase cycles through, widths 713..720 of a copy kept out of the sequence), BENCH_MAX_RATE (120),
# BENCH_COPIES (auto), BENCH_IMAGE_GRAIN (4: the input's noise, see bench/transform/gen-image.mjs),
# BENCH_CACHE_DIR (~/.cache/assetd/bench-transform: the input image and thumbor's venv),
# BENCH_ASSETD_FORCE (0; 1: run the assetd phases even when assetd does not transform),
# BENCH_SUMMARY (a file to also write the markdown summary to), ASSETD_BIN (an assetd binary to use; unset:
# build it with cargo into CARGO_TARGET_DIR, default ~/.cache/assetd/target), ASSETD_PROJECT_ID (1).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS="${BENCH_SECS:-20}"
WARMUP="${BENCH_WARMUP:-3}"
ROUNDS="${BENCH_ROUNDS:-2}"
read -r -a ENGINES <<<"${BENCH_ENGINES:-sharp thumbor assetd}"
read -r -a FORMATS <<<"${BENCH_FORMATS:-jpeg webp}"
CACHED_SECS="${BENCH_CACHED_SECS:-10}"
CACHED_SET="${BENCH_CACHED_SET:-8}"
MAX_RATE="${BENCH_MAX_RATE:-120}"
GRAIN="${BENCH_IMAGE_GRAIN:-4}"
CACHE_DIR="${BENCH_CACHE_DIR:-$HOME/.cache/assetd/bench-transform}"
FORCE="${BENCH_ASSETD_FORCE:-0}"
PROJECT_ID="${ASSETD_PROJECT_ID:-1}"
QUALITY=80
WMIN=560
WCOUNT=161
WMAX=$((WMIN + WCOUNT - 1))
IMG_W=4000
IMG_H=3000
IMG_Q=90
COPIES="${BENCH_COPIES:-$(((MAX_RATE * (SECS + WARMUP) * ROUNDS + WCOUNT - 1) / WCOUNT + 1))}"
HERE=bench/transform
VENV="$CACHE_DIR/venv"
WRK_TIMEOUT=30s
TOKEN=bench-token

log() { printf '== %s\n' "$*" >&2; }
warn() { printf '!! %s\n' "$*" >&2; }
die() {
    printf 'bench/transform.sh: %s\n' "$*" >&2
    exit 1
}
has() { # word list...
    local x
    for x in "${@:2}"; do [ "$x" = "$1" ] && return 0; done
    return 1
}
# shellcheck source=bench/transform/lib.sh
. "$HERE/lib.sh"
for e in "${ENGINES[@]}"; do has "$e" sharp thumbor assetd || die "unknown engine $e in BENCH_ENGINES"; done
for f in "${FORMATS[@]}"; do has "$f" jpeg webp || die "unknown format $f in BENCH_FORMATS"; done

# ---- tools --------------------------------------------------------------------------------------
missing=()
for tool in wrk curl jq djpeg python3; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
missing=("${missing[@]/djpeg/libjpeg-turbo-progs}")
command -v node >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
    log "installing ${missing[*]} (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 9) ? 0 : 1)' ||
    die "sharp 0.35 needs Node.js >= 20.9, this is $(node --version)"

ensure_sharp

if has thumbor "${ENGINES[@]}"; then
    STAMP="$(sha256sum "$HERE/thumbor-requirements.txt" | cut -c1-16)"
    if [ "$(cat "$VENV/.bench-stamp" 2>/dev/null)" != "$STAMP" ]; then
        log "installing thumbor into $VENV (pip, $HERE/thumbor-requirements.txt)"
        rm -rf "$VENV"
        mkdir -p "$CACHE_DIR"
        if ! python3 -m venv "$VENV" 2>/dev/null; then
            rm -rf "$VENV"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            python3 -m venv "$VENV"
        fi
        "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/thumbor-requirements.txt" >&2
        echo "$STAMP" >"$VENV/.bench-stamp"
    fi
fi

if has assetd "${ENGINES[@]}"; then
    if [ -z "${ASSETD_BIN:-}" ]; then
        export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/assetd/target}"
        export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
        log "building assetd (release)"
        cargo build --release --locked --bin assetd
        ASSETD_BIN="$CARGO_TARGET_DIR/release/assetd"
    fi
    [ -x "$ASSETD_BIN" ] || die "no assetd binary at $ASSETD_BIN"
fi

# ---- the input and its copies -------------------------------------------------------------------
mkdir -p "$CACHE_DIR"
INPUT="$(ensure_input "$CACHE_DIR" "$IMG_W" "$IMG_H" "$IMG_Q" "$GRAIN")"
INPUT_BYTES="$(wc -c <"$INPUT")"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/assetd-bench-transform.XXXXXX")"
ASSETD_PID=""
THUMBOR_PIDS=()

cleanup() {
    local status=$? pid
    trap - EXIT INT TERM
    for pid in "${THUMBOR_PIDS[@]}"; do stop_server "$pid"; done
    stop_server "$ASSETD_PID"
    if [ "$status" -ne 0 ]; then
        for f in "$WORK"/assetd.log "$WORK"/thumbor-*.log; do
            [ -s "$f" ] || continue
            echo "--- last lines of $(basename "$f")" >&2
            tail -n 30 "$f" >&2 || true
        done
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# copy-NNNN.jpg: the input with a COM segment "assetd bench copy NNNN" right after SOI, so each copy has its
# own bytes (and md5) and decodes to the same pixels. copy-probe.jpg is kept out of the sequence: it answers
# the checks and the cached phase.
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
log "making $COPIES copies of the input (${INPUT_BYTES} bytes) in $WORK/images"
: >"$WORK/files-local.txt"
for c in $(seq 0 $((COPIES - 1))); do
    name="$(printf %04d "$c")"
    make_copy "$name"
    echo "copy-$name.jpg" >>"$WORK/files-local.txt"
done
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
probe "$INPUT" >"$WORK/input.json"
jq -e --argjson w "$IMG_W" --argjson h "$IMG_H" '.format == "jpeg" and .width == $w and .height == $h' "$WORK/input.json" >/dev/null ||
    die "the input image is not a ${IMG_W}x${IMG_H} JPEG: $(cat "$WORK/input.json")"
cmp -s <(djpeg -scale 1/4 "$INPUT") <(djpeg -scale 1/4 "$WORK/images/copy-probe.jpg") || die "a copy does not decode like the input"

log "libjpeg-turbo reference: djpeg -scale 1/4 on one core, best of 3 × 10 decodes"
DJPEG_RATE=0
for _ in 1 2 3; do
    t0="$(date +%s.%N)"
    for _ in $(seq 1 10); do djpeg -scale 1/4 -outfile /dev/null "$INPUT"; done
    DJPEG_RATE="$(awk -v t0="$t0" -v t1="$(date +%s.%N)" -v best="$DJPEG_RATE" 'BEGIN { r = 10 / (t1 - t0); printf "%.1f", (r > best ? r : best) }')"
done
DJPEG_VERSION="$(djpeg -version 2>&1 | head -n1)"

check_output() { # file format width label: dies unless the file is a <format> image <width> px wide
    local got
    got="$(probe "$1")"
    jq -e --arg f "$2" --argjson w "$3" '.format == $f and .width == $w' <<<"$got" >/dev/null ||
        die "$4 answered $got, not a $3 px $2"
}

# CPU accounting, to tell a slow engine from a busy machine: the engine's CPU time per operation and the CPU
# that everything else (wrk included) used meanwhile, in % of all cores.
HZ="$(getconf CLK_TCK)"
machine_busy() { # jiffies all cores spent not idle since boot
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}
pids_cpu() { # pid... -> their utime + stime in jiffies
    local pid stat total=0 f
    for pid in "$@"; do
        stat="$(cat "/proc/$pid/stat")"
        read -r -a f <<<"${stat##*) }"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}
cpu_fields() { # busy0 busy1 engine-jiffies secs ops -> JSON fields cpu_ms_per_op, other_cpu_pct
    jq -nc --argjson b "$(($2 - $1))" --argjson e "$3" --argjson s "$4" --argjson n "$5" --argjson hz "$HZ" --argjson cores "$(nproc)" \
        '{cpu_ms_per_op: (if $n > 0 then ($e * 1000 / $hz / $n * 10 | round / 10) else null end),
          other_cpu_pct: ([(($b - $e) / $hz) / ($s * $cores) * 100, 0] | max | round)}'
}

declare -A NEXT=()  # engine:format -> next sequence index
declare -A LABEL=([jpeg]=JPEG [webp]=WebP)
CMDS=()             # the commands, once each, for the summary
note_cmd() { has "$1" "${CMDS[@]}" || CMDS+=("$1"); }
: >"$WORK/results.jsonl"
: >"$WORK/rss.jsonl"

# ---- thumbor: two processes ---------------------------------------------------------------------
if has thumbor "${ENGINES[@]}"; then
    TH_PORTS=()
    for k in 1 2; do
        port="$(free_port)"
        BENCH_THUMBOR_ROOT="$WORK/images" "$VENV/bin/thumbor" -i 127.0.0.1 -p "$port" -c "$HERE/thumbor.conf" -l warning \
            >"$WORK/thumbor-$k.log" 2>&1 &
        THUMBOR_PIDS+=($!)
        TH_PORTS+=("$port")
        wait_until_up "http://127.0.0.1:$port/healthcheck" "$!" "thumbor $k"
    done
    note_cmd "BENCH_THUMBOR_ROOT=<copies dir> $VENV/bin/thumbor -i 127.0.0.1 -p <port 1|2> -c $HERE/thumbor.conf -l warning  # x2"
    THUMBOR_VERSION="$("$VENV/bin/thumbor" --version 2>&1 | tail -n1 | sed 's/^Thumbor v//')"
    PILLOW_INFO="$("$VENV/bin/python" -c 'from PIL import Image, features as f; print("Pillow %s (libjpeg-turbo %s, libwebp %s)" % (Image.__version__, f.version("libjpeg_turbo"), f.version("webp")))')"
    for f in "${FORMATS[@]}"; do
        curl -sS --fail -o "$WORK/check.img" "http://127.0.0.1:${TH_PORTS[0]}/unsafe/${WMAX}x0/filters:quality($QUALITY):format($f)/copy-probe.jpg"
        check_output "$WORK/check.img" "$f" "$WMAX" "thumbor"
    done
fi

# ---- assetd: the server and the uploads ---------------------------------------------------------
declare -A ASSETD_OK=()
if has assetd "${ENGINES[@]}"; then
    ASSETD_PORT="$(free_port)"
    BASE="http://127.0.0.1:$ASSETD_PORT"
    log "starting assetd ($ASSETD_BIN) on $BASE"
    ASSETD_LISTEN="127.0.0.1:$ASSETD_PORT" ASSETD_DATA_DIR="$WORK/assetd-data" ASSETD_API_TOKEN="$TOKEN" \
        ASSETD_PUBLIC_URL="$BASE" ASSETD_PROJECT_ID="$PROJECT_ID" ASSETD_RATE_LIMIT=0 ASSETD_PUBLIC_RATE_LIMIT=0 RUST_LOG=warn \
        "$ASSETD_BIN" serve >"$WORK/assetd.log" 2>&1 &
    ASSETD_PID=$!
    wait_until_up "$BASE/healthz" "$ASSETD_PID" assetd
    note_cmd "ASSETD_LISTEN=127.0.0.1:<port> ASSETD_DATA_DIR=<temp dir> ASSETD_API_TOKEN=$TOKEN ASSETD_PUBLIC_URL=http://127.0.0.1:<port> ASSETD_PROJECT_ID=$PROJECT_ID ASSETD_RATE_LIMIT=0 ASSETD_PUBLIC_RATE_LIMIT=0 RUST_LOG=warn $ASSETD_BIN serve"

    upload() { # file name -> prints the upload's public path (/<project>/<...>)
        upload_to "$BASE" "$TOKEN" "$WORK" "$1" "$2"
    }
    log "uploading the $COPIES copies and the probe copy to assetd"
    : >"$WORK/files-assetd.txt"
    while read -r name; do
        upload "$WORK/images/$name" "$name" >>"$WORK/files-assetd.txt"
    done <"$WORK/files-local.txt"
    PROBE_PATH="$(upload "$WORK/images/copy-probe.jpg" copy-probe.jpg)"

    # Does assetd transform? Until the feature exists it ignores the parameters and answers the original.
    declare -A FM=([jpeg]=jpg [webp]=webp) MIME=([jpeg]=image/jpeg [webp]=image/webp)
    for f in "${FORMATS[@]}"; do
        headers="$(curl -sS -D - -o "$WORK/derived-$f" -w 'status=%{http_code}\n' \
            "$BASE$PROBE_PATH?w=$WMAX&fm=${FM[$f]}&q=$QUALITY")"
        got="$(probe "$WORK/derived-$f")"
        ctype="$(grep -i '^content-type:' <<<"$headers" | tail -n1 | cut -d: -f2- | tr -d ' \r')"
        if grep -q '^status=200$' <<<"$headers" && [ "${ctype%%;*}" = "${MIME[$f]}" ] &&
            jq -e --arg f "$f" --argjson w "$WMAX" '.format == $f and .width == $w' <<<"$got" >/dev/null; then
            ASSETD_OK[$f]=1
        else
            ASSETD_OK[$f]=0
            warn "assetd does not transform yet: ?w=$WMAX&fm=${FM[$f]}&q=$QUALITY answered $(grep '^status=' <<<"$headers")," \
                "Content-Type $ctype, $got (the uploaded original is $(wc -c <"$WORK/images/copy-probe.jpg") bytes, ${IMG_W} px wide)"
            if [ "$FORCE" = 1 ]; then
                warn "BENCH_ASSETD_FORCE=1: measuring assetd ${LABEL[$f]} anyway; its figures are not transforms"
            else
                warn "skipping assetd ${LABEL[$f]} (BENCH_ASSETD_FORCE=1 measures it anyway)"
            fi
        fi
    done

    # The cached set: widths WMAX-CACHED_SET+1..WMAX of the probe copy (JPEG), each requested twice now.
    # The plain file: the bytes of the derived WMAX px JPEG, uploaded as a file of its own.
    if has jpeg "${FORMATS[@]}" && { [ "${ASSETD_OK[jpeg]}" = 1 ] || [ "$FORCE" = 1 ]; }; then
        : >"$WORK/cached-urls.txt"
        for w in $(seq $((WMAX - CACHED_SET + 1)) "$WMAX"); do
            echo "$PROBE_PATH?w=$w&fm=jpg&q=$QUALITY" >>"$WORK/cached-urls.txt"
        done
        CACHED_XCACHE=""
        while read -r u; do
            curl -sS --fail -o /dev/null "$BASE$u"
            x="$(curl -sS --fail -D - -o /dev/null "$BASE$u" | grep -i '^x-cache:' | cut -d: -f2- | tr -d ' \r')" || true
            CACHED_XCACHE+="${x:-none} "
        done <"$WORK/cached-urls.txt"
        CACHED_XCACHE="$(tr ' ' '\n' <<<"$CACHED_XCACHE" | grep -v '^$' | sort | uniq -c | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }')"
        case "$CACHED_XCACHE" in
        "$CACHED_SET HIT") ;;
        *) warn "the cached set's second requests answered X-Cache: $CACHED_XCACHE (expected $CACHED_SET HIT)" ;;
        esac
        DERIVED_BYTES="$(wc -c <"$WORK/derived-jpeg")"
        PLAIN_PATH="$(upload "$WORK/derived-jpeg" "plain-$WMAX.jpg")"
        echo "$PLAIN_PATH" >"$WORK/plain-urls.txt"
        curl -sS --fail -o "$WORK/plain-check" "$BASE$PLAIN_PATH"
        cmp -s "$WORK/plain-check" "$WORK/derived-jpeg" || die "the plain file does not come back byte for byte"
        CACHED_PHASES=1
    else
        CACHED_PHASES=0
    fi
    reset_peak "$ASSETD_PID"
fi
for pid in "${THUMBOR_PIDS[@]}"; do reset_peak "$pid"; done

# ---- the phases ---------------------------------------------------------------------------------
wrk_seq() { # engine format phase round secs port start step files template -> BENCH_JSON line
    local conns=2 # one sequence over 2 connections; step 2 = half of one, over 1 connection
    [ "$8" = 1 ] || conns=1
    BENCH_ENGINE="$1" BENCH_FORMAT="$2" BENCH_PHASE="$3" BENCH_ROUND="$4" BENCH_LABEL="$1-$2" \
        BENCH_START="$7" BENCH_STEP="$8" BENCH_FILES="$9" BENCH_TEMPLATE="${10}" BENCH_WMIN="$WMIN" BENCH_WCOUNT="$WCOUNT" \
        wrk -t1 -c"$conns" -d"${5}s" --timeout "$WRK_TIMEOUT" -s "$HERE/wrk.lua" "http://127.0.0.1:$6" |
        sed -n 's/^BENCH_JSON //p'
}

run_sharp() { # format round secs warmup -> appends a result unless round is 0
    local out b0 t0 cpu
    b0="$(machine_busy)"
    t0="$(date +%s.%N)"
    out="$(node "$HERE/sharp-run.mjs" --dir "$WORK/images" --copies "$COPIES" --format "$1" --secs "$3" --warmup "$4" \
        --start "${NEXT[sharp:$1]:-0}" --workers 2 --quality "$QUALITY" --wmin "$WMIN" --wcount "$WCOUNT" --round "$2" |
        sed -n 's/^BENCH_JSON //p')"
    [ -n "$out" ] || die "sharp-run.mjs printed no BENCH_JSON line"
    note_cmd "node $HERE/sharp-run.mjs --dir <copies dir> --copies $COPIES --format jpeg|webp --secs $SECS --warmup $WARMUP --start <n> --workers 2 --quality $QUALITY --wmin $WMIN --wcount $WCOUNT"
    NEXT[sharp:$1]="$(jq -r .next_index <<<"$out")"
    # "Other" CPU over the whole node run (warm-up included): the machine's busy time less node's own.
    cpu="$(cpu_fields "$b0" "$(machine_busy)" "$(jq -r ".cpu_ms_total * $HZ / 1000 | round" <<<"$out")" \
        "$(awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { print t1 - t0 }')" 1)"
    jq -c --argjson cpu "$cpu" '{engine, format, phase: "uncached", round, ops_per_s, ops, duration_s, mean_bytes: .mean_out_bytes,
        p50_ms: null, p99_ms: null, errors: 0, exhausted: (if .exhausted then 1 else 0 end), max_rss_kb,
        cpu_ms_per_op, other_cpu_pct: $cpu.other_cpu_pct,
        info: {sharp, libvips, sharp_concurrency, uv_threadpool_size, vips_cache, simd}}' <<<"$out" >>"$WORK/results.jsonl"
}

run_thumbor() { # format round secs -> appends a result unless round is 0
    local start="${NEXT[thumbor:$1]:-0}" template="/unsafe/{w}x0/filters:quality($QUALITY):format($1)/{file}" p1 p2 b0 c0 cpu
    b0="$(machine_busy)"
    c0="$(pids_cpu "${THUMBOR_PIDS[@]}")"
    wrk_seq thumbor "$1" uncached "$2" "$3" "${TH_PORTS[0]}" "$start" 2 "$WORK/files-local.txt" "$template" >"$WORK/th1.json" &
    p1=$!
    wrk_seq thumbor "$1" uncached "$2" "$3" "${TH_PORTS[1]}" "$((start + 1))" 2 "$WORK/files-local.txt" "$template" >"$WORK/th2.json" &
    p2=$!
    wait "$p1"
    wait "$p2"
    cpu="$(cpu_fields "$b0" "$(machine_busy)" "$(($(pids_cpu "${THUMBOR_PIDS[@]}") - c0))" "$3" \
        "$(jq -s 'map(.requests) | add' "$WORK/th1.json" "$WORK/th2.json")")"
    note_cmd "BENCH_FILES=<copy names> BENCH_TEMPLATE='$template' BENCH_START=<n|n+1> BENCH_STEP=2 wrk -t1 -c1 -d${SECS}s --timeout $WRK_TIMEOUT -s $HERE/wrk.lua http://127.0.0.1:<port 1|2>  # x2 at once"
    NEXT[thumbor:$1]="$(jq -s 'map(.next_index) | max' "$WORK/th1.json" "$WORK/th2.json")"
    [ "$2" = 0 ] && return 0
    jq -sc --argjson cpu "$cpu" '{engine: "thumbor", format: .[0].format, phase: "uncached", round: .[0].round,
        ops_per_s: (map(.requests_per_s) | add), ops: (map(.requests) | add), duration_s: (map(.duration_s) | max),
        mean_bytes: ((map(.bytes) | add) / ([(map(.requests) | add), 1] | max) | round),
        p50_ms: (map(.p50_ms) | add / 2), p99_ms: (map(.p99_ms) | max),
        errors: (map(.errors | add) | add), exhausted: (map(.exhausted) | add)} + $cpu' "$WORK/th1.json" "$WORK/th2.json" \
        >>"$WORK/results.jsonl"
}

run_assetd() { # format round secs -> appends a result unless round is 0
    local out template="{file}?w={w}&fm=${FM[$1]}&q=$QUALITY" b0 c0 cpu
    b0="$(machine_busy)"
    c0="$(pids_cpu "$ASSETD_PID")"
    out="$(BENCH_XCACHE=1 wrk_seq assetd "$1" uncached "$2" "$3" "$ASSETD_PORT" "${NEXT[assetd:$1]:-0}" 1 "$WORK/files-assetd.txt" "$template")"
    [ -n "$out" ] || die "wrk printed no BENCH_JSON line"
    note_cmd "BENCH_XCACHE=1 BENCH_FILES=<upload paths> BENCH_TEMPLATE='$template' BENCH_START=<n> BENCH_STEP=1 wrk -t1 -c2 -d${SECS}s --timeout $WRK_TIMEOUT -s $HERE/wrk.lua http://127.0.0.1:<assetd port>"
    NEXT[assetd:$1]="$(jq -r .next_index <<<"$out")"
    [ "$2" = 0 ] && return 0
    cpu="$(cpu_fields "$b0" "$(machine_busy)" "$(($(pids_cpu "$ASSETD_PID") - c0))" "$3" "$(jq .requests <<<"$out")")"
    jq -c --argjson cpu "$cpu" '{engine, format, phase, round, ops_per_s: .requests_per_s, ops: .requests, duration_s,
        mean_bytes: (.bytes / ([.requests, 1] | max) | round), p50_ms, p99_ms, errors: (.errors | add), exhausted,
        x_cache} + $cpu' <<<"$out" >>"$WORK/results.jsonl"
}

run_list() { # phase round secs urls-file -> appends a result unless round is 0
    local out b0 c0 cpu
    b0="$(machine_busy)"
    c0="$(pids_cpu "$ASSETD_PID")"
    out="$(BENCH_ENGINE=assetd BENCH_FORMAT=jpeg BENCH_PHASE="$1" BENCH_ROUND="$2" BENCH_LABEL="assetd-$1" BENCH_URLS="$4" \
        wrk -t1 -c2 -d"${3}s" --timeout "$WRK_TIMEOUT" -s "$HERE/wrk.lua" "$BASE" | sed -n 's/^BENCH_JSON //p')"
    [ -n "$out" ] || die "wrk printed no BENCH_JSON line"
    note_cmd "BENCH_URLS=<$1 paths> wrk -t1 -c2 -d${CACHED_SECS}s --timeout $WRK_TIMEOUT -s $HERE/wrk.lua http://127.0.0.1:<assetd port>"
    [ "$2" = 0 ] && return 0
    cpu="$(cpu_fields "$b0" "$(machine_busy)" "$(($(pids_cpu "$ASSETD_PID") - c0))" "$3" "$(jq .requests <<<"$out")")"
    jq -c --argjson cpu "$cpu" '{engine, format, phase, round, ops_per_s: .requests_per_s, ops: .requests, duration_s,
        mean_bytes: (.bytes / ([.requests, 1] | max) | round), p50_ms, p99_ms, errors: (.errors | add), exhausted} + $cpu' \
        <<<"$out" >>"$WORK/results.jsonl"
}

assetd_runs() { # format
    has assetd "${ENGINES[@]}" && { [ "${ASSETD_OK[$1]}" = 1 ] || [ "$FORCE" = 1 ]; }
}

for round in $(seq 1 "$ROUNDS"); do
    for f in "${FORMATS[@]}"; do
        for e in "${ENGINES[@]}"; do
            case "$e" in
            sharp)
                log "round $round: sharp ${LABEL[$f]} (${WARMUP} s warm-up + ${SECS} s, in process)"
                run_sharp "$f" "$round" "$SECS" "$WARMUP"
                ;;
            thumbor)
                log "round $round: thumbor ${LABEL[$f]} (${WARMUP} s warm-up + ${SECS} s, 2 processes)"
                run_thumbor "$f" 0 "$WARMUP"
                run_thumbor "$f" "$round" "$SECS"
                ;;
            assetd)
                assetd_runs "$f" || continue
                log "round $round: assetd ${LABEL[$f]} uncached (${WARMUP} s warm-up + ${SECS} s)"
                run_assetd "$f" 0 "$WARMUP"
                run_assetd "$f" "$round" "$SECS"
                ;;
            esac
            tail -n1 "$WORK/results.jsonl" | jq -r '"   \(.ops_per_s * 100 | round / 100) ops/s, \(.errors) errors"' >&2
        done
    done
    if has assetd "${ENGINES[@]}" && [ "$CACHED_PHASES" = 1 ]; then
        for phase in cached plain; do
            log "round $round: assetd $phase (${WARMUP} s warm-up + ${CACHED_SECS} s)"
            run_list "$phase" 0 "$WARMUP" "$WORK/$phase-urls.txt"
            run_list "$phase" "$round" "$CACHED_SECS" "$WORK/$phase-urls.txt"
            tail -n1 "$WORK/results.jsonl" | jq -r '"   \(.ops_per_s * 100 | round / 100) requests/s, \(.errors) errors"' >&2
        done
    fi
done

# Peak RSS of the servers over all the phases (after the uploads and the checks).
if has thumbor "${ENGINES[@]}"; then
    jq -nc --argjson a "$(peak_kb "${THUMBOR_PIDS[0]}")" --argjson b "$(peak_kb "${THUMBOR_PIDS[1]}")" \
        '{engine: "thumbor", max_rss_kb: ($a + $b), note: "2 processes: \($a / 1024 | round) + \($b / 1024 | round) MiB"}' >>"$WORK/rss.jsonl"
fi
if has assetd "${ENGINES[@]}"; then
    jq -nc --argjson a "$(peak_kb "$ASSETD_PID")" '{engine: "assetd", max_rss_kb: $a, note: "1 process, all its phases"}' >>"$WORK/rss.jsonl"
fi
if has sharp "${ENGINES[@]}"; then
    jq -sc '{engine: "sharp", max_rss_kb: (map(select(.engine == "sharp") | .max_rss_kb) | max),
        note: "the node process (one per phase), highest"}' "$WORK/results.jsonl" >>"$WORK/rss.jsonl"
fi

# ---- summary ------------------------------------------------------------------------------------
summary() {
    local sharp_info
    echo "### Transform run finished $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "assetd $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (src/ modified)')," \
        "$(nproc) cores, load average before the summary $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "Input: ${IMG_W}×${IMG_H} baseline JPEG, q$IMG_Q, 4:2:0, $INPUT_BYTES bytes (bench/transform/gen-image.mjs, grain $GRAIN)," \
        "$COPIES copies + a probe copy; $DJPEG_VERSION (djpeg -scale 1/4) decodes it at $DJPEG_RATE/s on one core, best of 3" \
        "(2 cores: a ceiling near $(awk -v r="$DJPEG_RATE" 'BEGIN { printf "%.0f", 2 * r }')/s)."
    echo "Each request: width 560 + (n mod 161) px of copy floor(n / 161), q$QUALITY; ${WARMUP} s warm-up + ${SECS} s a phase," \
        "$ROUNDS round(s) interleaved (${ENGINES[*]} for each format); concurrency 2 for every engine."
    echo
    if has assetd "${ENGINES[@]}"; then
        for f in "${FORMATS[@]}"; do
            [ "${ASSETD_OK[$f]}" = 1 ] && continue
            echo "**Warning: assetd did not transform ${LABEL[$f]}**: ?w=$WMAX&fm=${FM[$f]}&q=$QUALITY answered something other than a" \
                "$WMAX px wide ${MIME[$f]} (the transform is not there yet?):" \
                "$([ "$FORCE" = 1 ] && echo "BENCH_ASSETD_FORCE=1, so its ${LABEL[$f]} rows measure whatever it answered (the original), not transforms" ||
                    echo "no assetd ${LABEL[$f]} figures")."
            echo
        done
    fi
    echo "Uncached, best of $ROUNDS round(s) (the highest ops/s of each engine × format; ratios from these):"
    echo
    echo "| engine | format | ops/s | × sharp | CPU ms/op | other CPU % | mean response bytes | peak RSS MiB |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|"
    jq -rs --slurpfile rss "$WORK/rss.jsonl" 'def r2: . * 100 | round / 100;
        (map(select(.phase == "uncached")) | group_by(.format)[]
            | (map(select(.engine == "sharp")) | max_by(.ops_per_s) // null) as $s
            | group_by(.engine) | sort_by({sharp: 0, thumbor: 1, assetd: 2}[.[0].engine])[] | max_by(.ops_per_s) as $b
            | (if $b.engine == "sharp" then $b.max_rss_kb else ($rss | map(select(.engine == $b.engine))[0].max_rss_kb) end) as $m
            | "| \($b.engine) | \($b.format) | \($b.ops_per_s | r2) | \(if $s then ($b.ops_per_s / $s.ops_per_s | r2) else "" end)"
              + " | \($b.cpu_ms_per_op // "") | \($b.other_cpu_pct // "") | \($b.mean_bytes) | \(if $m then ($m / 1024 | round) else "" end) |")' "$WORK/results.jsonl"
    echo
    echo "CPU ms/op: the engine's own CPU time (all its threads and processes) per operation; other CPU %: what the rest" \
        "of the machine (wrk included) used during that phase, in % of $(nproc) cores (high: the round was disturbed)."
    echo "Mean response bytes: sharp the output buffer; HTTP engines the response with its headers (wrk's count)." \
        "Peak RSS of sharp: that phase's node process (process.resourceUsage().maxRSS); of the servers: VmHWM over all their" \
        "phases, reset after start, uploads and checks (thumbor: both processes added up)."
    echo
    echo "Peak RSS: $(jq -rs 'map("\(.engine) \(.max_rss_kb / 1024 | round) MiB (\(.note))") | join("; ")' "$WORK/rss.jsonl")."
    if has assetd "${ENGINES[@]}"; then
        if [ "$CACHED_PHASES" = 1 ]; then
            echo
            echo "Cached hits vs a plain file (wrk -t1 -c2 -d${CACHED_SECS}s; cached: $CACHED_SET derived URLs, widths" \
                "$((WMAX - CACHED_SET + 1))..$WMAX JPEG, all requested before (X-Cache of the check before the phase: $CACHED_XCACHE); plain: the $DERIVED_BYTES bytes of the $WMAX px" \
                "JPEG uploaded as a file), best of $ROUNDS round(s):"
            echo
            echo "| phase | requests/s | mean response bytes | p50 ms | p99 ms | errors |"
            echo "|---|---:|---:|---:|---:|---:|"
            jq -rs 'map(select(.phase == "cached" or .phase == "plain")) | group_by(.phase)[] | max_by(.ops_per_s)
                | "| \(.phase) | \(.ops_per_s) | \(.mean_bytes) | \(.p50_ms) | \(.p99_ms) | \(.errors) |"' "$WORK/results.jsonl"
            echo
            jq -rs 'def r3: . * 1000 | round / 1000;
                (map(select(.phase == "cached")) | max_by(.ops_per_s).ops_per_s) as $c
                | (map(select(.phase == "plain")) | max_by(.ops_per_s).ops_per_s) as $p
                | (map(select(.phase == "uncached" and .engine == "assetd" and .format == "jpeg")) | max_by(.ops_per_s).ops_per_s // 0) as $u
                | "Cached ÷ plain: \($c / $p | r3) (goal ≥ 0.8: \(if $c / $p >= 0.8 then "met" else "not met" end))."
                  + (if $u > 0 and $c < 3 * $u then " **Warning: the cached phase is under 3× the uncached rate: are the hits really cached?**" else "" end)' \
                "$WORK/results.jsonl"
            # A ~60 KB file over loopback takes well under a millisecond; ~40 ms at p50 is the delayed-ACK
            # timer meeting Nagle's algorithm (a response written in several pieces by a socket without TCP_NODELAY).
            jq -rs 'map(select(.phase == "plain")) | max_by(.ops_per_s) | select(.p50_ms >= 30)
                | "**Warning: the plain file takes \(.p50_ms) ms at p50 over loopback**, the signature of ~40 ms delayed-ACK stalls"
                  + " (the server socket without TCP_NODELAY, a response written in pieces): plain and cached figures then measure"
                  + " the stall, and their ratio means little."' "$WORK/results.jsonl"
        fi
    fi
    if has assetd "${ENGINES[@]}" && has sharp "${ENGINES[@]}"; then
        echo
        jq -rs 'def r3: . * 1000 | round / 1000;
            map(select(.phase == "uncached")) | group_by(.format)[]
            | (map(select(.engine == "sharp")) | max_by(.ops_per_s).ops_per_s) as $s
            | (map(select(.engine == "assetd")) | max_by(.ops_per_s).ops_per_s // null) as $a
            | select($a != null)
            | "Uncached assetd ÷ sharp, \(.[0].format): \($a / $s | r3) (goal ≥ 1.05: \(if $a / $s >= 1.05 then "met" else "not met" end))."' \
            "$WORK/results.jsonl"
    fi
    echo
    echo "Every round (thumbor: the two wrk instances added up, p50 their mean, p99 their max):"
    echo
    echo "| round | engine | format | phase | ops/s | ops | p50 ms | p99 ms | CPU ms/op | other CPU % | errors | exhausted | X-Cache |"
    echo "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    jq -r 'def r2: . * 100 | round / 100;
        "| \(.round) | \(.engine) | \(.format) | \(.phase) | \(.ops_per_s | r2) | \(.ops) | \(.p50_ms // "" | if type == "number" then r2 else . end)"
        + " | \(.p99_ms // "" | if type == "number" then r2 else . end) | \(.cpu_ms_per_op // "") | \(.other_cpu_pct // "")"
        + " | \(.errors) | \(.exhausted) | \(if .x_cache.checked then "\(.x_cache.miss) MISS, \(.x_cache.hit) HIT"
            + (if .x_cache.other > 0 then ", \(.x_cache.other) none" else "" end) else "" end) |"' \
        "$WORK/results.jsonl"
    echo
    echo "Versions:"
    echo
    if has sharp "${ENGINES[@]}"; then
        sharp_info="$(jq -rs 'map(select(.engine == "sharp"))[0].info
            | "sharp \(.sharp) (libvips \(.libvips); sharp.concurrency() \(.sharp_concurrency), libuv threadpool \(.uv_threadpool_size), SIMD \(.simd), libvips operation cache off)"' \
            "$WORK/results.jsonl")"
        echo "- $sharp_info, Node.js $(node --version), 2 async workers"
    fi
    has thumbor "${ENGINES[@]}" && echo "- thumbor $THUMBOR_VERSION, $PILLOW_INFO, Python $("$VENV/bin/python" -c 'import platform; print(platform.python_version())'), PIL engine, 2 processes × 1 wrk connection"
    has assetd "${ENGINES[@]}" && echo "- assetd: $ASSETD_BIN, 2 wrk connections"
    echo "- $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2), -t1, --timeout $WRK_TIMEOUT"
    echo
    echo "Commands:"
    echo
    echo '```'
    printf '%s\n' "${CMDS[@]}"
    echo '```'
}
echo
summary | tee "${BENCH_SUMMARY:-/dev/null}"
if jq -se 'map(.errors) | add > 0' "$WORK/results.jsonl" >/dev/null; then
    die "some requests failed (non-2xx answers or socket errors): see the table"
fi
if jq -se 'map(select(.phase == "uncached") | .x_cache.hit // 0) | add > 0' "$WORK/results.jsonl" >/dev/null; then
    die "assetd answered X-Cache: HIT in an uncached phase: the sequence repeated a key (see the table)"
fi
if jq -se 'map(.exhausted) | add > 0' "$WORK/results.jsonl" >/dev/null; then
    die "a phase ran past the distinct (copy, width) pairs: raise BENCH_COPIES or BENCH_MAX_RATE"
fi
