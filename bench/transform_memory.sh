#!/usr/bin/env bash
# Transform memory (issue 14): 200 distinct transforms of a 12 MP JPEG (the input of bench/transform.sh,
# 4000×3000) at 40 concurrent requests, widths 100..7500 over jpg/png/webp/avif, against one or more assetd
# builds (variants), alternating them, BENCH_RUNS times each. Per run: a fresh server and data dir, the input
# uploaded, the peak RSS reset; then the load, then BENCH_IDLE_SECS (60) idle. Reported: peak RSS (VmHWM during
# the load and idle), RSS when the load ended and after the idle time, the answers (200, 503 with Retry-After,
# 503 without, other statuses, dropped connections: curl got no HTTP answer), p50/p95 latency, wall time.
# Goal (issue 14): peak ≤ 600 MB, RSS ≤ 250 MB a minute after, only 200 and 503 + Retry-After, ≥ 3/4 200.
#
# Request i (0..199) asks for fm = (jpg png webp avif)[i mod 4] at w = 100 + round(k × 7400 / 199) where
# k = (i × 77) mod 200: every width from 100 to 7500 once, in a scattered order, so small and large outputs mix
# over the whole run; every request is a new cache key. xargs -P 40 runs curl (--max-time BENCH_MAX_TIME, 300 s).
#
# Variants: BENCH_VARIANTS="label=binary[,ENV=VALUE...] ..." (default: "head=$ASSETD_BIN", built with cargo
# when ASSETD_BIN is unset). The ENV pairs are set for that server only, e.g.
#   base=/path/to/old/assetd
#   jemalloc=target/release/assetd,LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
# Other knobs: BENCH_RUNS (3), BENCH_REQUESTS (200), BENCH_CONCURRENCY (40), BENCH_IDLE_SECS (60),
# BENCH_SERVER_ENV ("": ENV=VALUE pairs for every variant), BENCH_SUMMARY (also write the summary there).
#
#   bench/transform_memory.sh calibrate   # instead: examples/transform_footprint over a set of transforms,
#                                         # measured peak vs assetd's estimate (src/imaging/memory.rs)
set -euo pipefail
cd "$(dirname "$0")/.."
die() {
    printf 'bench/transform_memory.sh: %s\n' "$*" >&2
    exit 1
}
log() { printf '== %s\n' "$*" >&2; }
# shellcheck source=bench/transform/lib.sh
. bench/transform/lib.sh

RUNS="${BENCH_RUNS:-3}"
REQUESTS="${BENCH_REQUESTS:-200}"
CONCURRENCY="${BENCH_CONCURRENCY:-40}"
IDLE_SECS="${BENCH_IDLE_SECS:-60}"
MAX_TIME="${BENCH_MAX_TIME:-300}"
read -r -a SERVER_ENV <<<"${BENCH_SERVER_ENV:-}"
TOKEN=bench-token
FORMATS=(jpg png webp avif)
WMIN=100
WMAX=7500

for tool in curl jq xargs awk; do command -v "$tool" >/dev/null || die "$tool is missing"; done
INPUT="$(ensure_input "$HOME/.cache/assetd/bench-transform" 4000 3000 90 4)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/assetd/target}"

if [ "${1:-}" = calibrate ]; then
    cargo build --release --locked --example transform_footprint >&2
    queries=()
    for fm in jpg png webp avif gif; do
        for w in 400 1500 3000 4000 6000 7500; do queries+=("w=$w&fm=$fm"); done
    done
    queries+=("w=4000&fm=webp&lossless=1" "w=2000&fm=png8" "w=4000&fm=pjpg" "w=2000&h=2000&fit=crop&crop=entropy&fm=jpg")
    printf '| query | format | output | estimate MiB | measured MiB | ms | bytes | error |\n|---|---|---|---:|---:|---:|---:|---|\n'
    "$CARGO_TARGET_DIR/release/examples/transform_footprint" "$INPUT" image/jpeg "${queries[@]}" |
        jq -r '"| \(.query) | \(.format) | \(.output) | \(.estimate_mib) | \(.measured_mib) | \(.ms) | \(.bytes) | \(.error // "") |"'
    exit 0
fi

if [ -z "${BENCH_VARIANTS:-}" ]; then
    if [ -z "${ASSETD_BIN:-}" ]; then
        log "building assetd (release)"
        cargo build --release --locked --bin assetd >&2
        ASSETD_BIN="$CARGO_TARGET_DIR/release/assetd"
    fi
    BENCH_VARIANTS="head=$ASSETD_BIN"
fi
read -r -a VARIANTS <<<"$BENCH_VARIANTS"
for v in "${VARIANTS[@]}"; do
    bin="${v#*=}"
    bin="${bin%%,*}"
    [ -x "$bin" ] || die "variant $v: no executable at $bin"
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/assetd-bench-memory.XXXXXX")"
PID=""
SAMPLER=""
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
    stop_server "$PID"
    [ "$status" -ne 0 ] && [ -s "$WORK/server.log" ] && tail -n 30 "$WORK/server.log" >&2
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The request list: "<w> <fm>" per line (see the header).
: >"$WORK/requests.txt"
for i in $(seq 0 $((REQUESTS - 1))); do
    k=$(((i * 77) % REQUESTS))
    w=$(awk -v k="$k" -v n="$REQUESTS" -v a="$WMIN" -v b="$WMAX" 'BEGIN { printf "%d", a + (n > 1 ? k * (b - a) / (n - 1) : 0) + 0.5 }')
    echo "$w ${FORMATS[$((i % 4))]}" >>"$WORK/requests.txt"
done
[ "$(sort -u "$WORK/requests.txt" | wc -l)" = "$REQUESTS" ] || die "the requests are not all distinct"

: >"$WORK/results.jsonl"
run_variant() { # spec run
    local label="${1%%=*}" rest="${1#*=}" bin env=() port base path t0 t1 peak rss_end rss_idle
    bin="${rest%%,*}"
    [ "$rest" != "$bin" ] && IFS=, read -r -a env <<<"${rest#*,}"
    port="$(free_port)"
    base="http://127.0.0.1:$port"
    rm -rf "$WORK/data"
    env ASSETD_LISTEN="127.0.0.1:$port" ASSETD_DATA_DIR="$WORK/data" ASSETD_API_TOKEN="$TOKEN" ASSETD_PUBLIC_URL="$base" \
        ASSETD_RATE_LIMIT=0 ASSETD_PUBLIC_RATE_LIMIT=0 RUST_LOG=warn "${SERVER_ENV[@]}" "${env[@]}" "$bin" serve \
        >"$WORK/server.log" 2>&1 &
    PID=$!
    wait_until_up "$base/healthz" "$PID" "assetd ($label)"
    path="$(upload_to "$base" "$TOKEN" "$WORK" "$INPUT" photo.jpg)"
    sleep 1
    local rss_start
    rss_start="$(rss_kb "$PID")"
    reset_peak "$PID"
    # RSS every 0.5 s, for the curve (and a second look at the peak).
    (while kill -0 "$PID" 2>/dev/null; do echo "$(date +%s.%N) $(rss_kb "$PID")"; sleep 0.5; done) >"$WORK/rss.txt" 2>/dev/null &
    SAMPLER=$!
    log "$label run $2: $REQUESTS transforms, $CONCURRENCY at a time"
    t0="$(date +%s.%N)"
    # Each line: status seconds retry-after curl-exit-code (status 000: no HTTP answer).
    awk -v base="$base$path" '{ printf "%s?w=%s&fm=%s\n", base, $1, $2 }' "$WORK/requests.txt" |
        xargs -P "$CONCURRENCY" -I{} curl -s -o /dev/null --max-time "$MAX_TIME" \
            -w '%{http_code} %{time_total} %header{retry-after} %{exitcode}\n' {} >"$WORK/answers.txt" || true
    t1="$(date +%s.%N)"
    rss_end="$(rss_kb "$PID")"
    log "$label run $2: load done in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }') s, RSS $((rss_end / 1024)) MiB; idle ${IDLE_SECS} s"
    sleep "$IDLE_SECS"
    rss_idle="$(rss_kb "$PID")"
    peak="$(peak_kb "$PID")"
    kill "$SAMPLER" 2>/dev/null || true
    wait "$SAMPLER" 2>/dev/null || true
    SAMPLER=""
    stop_server "$PID"
    PID=""
    awk '{ retry = (NF == 4 ? $3 : ""); code = $NF;
           if ($1 == "000") k = "dropped"; else if ($1 == "200") k = "ok"; else if ($1 == "503" && retry != "") k = "busy";
           else if ($1 == "503") k = "busy_no_retry_after"; else k = "other";
           printf "{\"kind\":\"%s\",\"status\":\"%s\",\"secs\":%s,\"curl\":%s}\n", k, $1, $2, code }' "$WORK/answers.txt" |
        jq -sc --arg variant "$label" --argjson run "$2" --argjson peak "$peak" --argjson start "$rss_start" \
            --argjson at_end "$rss_end" --argjson idle "$rss_idle" --argjson wall "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
            --argjson sampled "$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$WORK/rss.txt")" '
            def pct(p): (map(.secs) | sort) as $s | if ($s | length) == 0 then null else $s[((($s | length) - 1) * p) | floor] end;
            def count(k): map(select(.kind == k)) | length;
            {variant: $variant, run: $run, start_mib: ($start / 1024 | round), peak_mib: ($peak / 1024 | round),
             sampled_peak_mib: ($sampled / 1024 | round), end_mib: ($at_end / 1024 | round), idle_mib: ($idle / 1024 | round),
             ok: count("ok"), busy: count("busy"), busy_no_retry_after: count("busy_no_retry_after"), other: count("other"),
             dropped: count("dropped"), other_statuses: (map(select(.kind == "other") | .status) | unique),
             p50_s: pct(0.5), p95_s: pct(0.95), ok_p50_s: (map(select(.kind == "ok")) | pct(0.5)), wall_s: ($wall | round)}' \
        >>"$WORK/results.jsonl"
    tail -n1 "$WORK/results.jsonl" | jq -r '"   peak \(.peak_mib) MiB, \(.idle_mib) MiB after the idle time; \(.ok) × 200, \(.busy) × 503, \(.other) other, \(.dropped) dropped"' >&2
}

for run in $(seq 1 "$RUNS"); do
    for v in "${VARIANTS[@]}"; do run_variant "$v" "$run"; done
done

summary() {
    echo "### Transform memory run finished $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "assetd $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (src/ modified)'), $(nproc) cores," \
        "load average at the end $(cut -d' ' -f1-3 /proc/loadavg). Input: $(basename "$INPUT") ($(wc -c <"$INPUT") bytes, 4000×3000)." \
        "$REQUESTS distinct transforms, widths $WMIN..$WMAX over ${FORMATS[*]}, $CONCURRENCY at a time (xargs -P + curl), $RUNS run(s) per variant," \
        "variants alternating; ${IDLE_SECS} s idle after each load."
    echo
    echo "Variants: $(printf '`%s` ' "${VARIANTS[@]}")${SERVER_ENV[*]:+(all with ${SERVER_ENV[*]})}"
    echo
    echo "| variant | run | peak RSS MiB | RSS at end MiB | RSS after ${IDLE_SECS} s MiB | 200 | 503 + Retry-After | 503 without | other | dropped | p50 s | p95 s | wall s |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    jq -r '"| \(.variant) | \(.run) | \(.peak_mib) | \(.end_mib) | \(.idle_mib) | \(.ok) | \(.busy) | \(.busy_no_retry_after) | \(.other)\(if (.other_statuses | length) > 0 then " (\(.other_statuses | join(",")))" else "" end) | \(.dropped) | \(.p50_s) | \(.p95_s) | \(.wall_s) |"' "$WORK/results.jsonl"
    echo
    echo "Per variant, median [min–max] over the runs:"
    echo
    echo "| variant | peak RSS MiB | RSS after ${IDLE_SECS} s MiB | 200 | 503 + Retry-After | dropped | p50 s | p95 s | goals met (runs) |"
    echo "|---|---|---|---|---|---|---|---|---:|"
    jq -rs --argjson n "$REQUESTS" 'def med: sort | .[(length - 1) / 2 | floor];
        def r: if type == "number" then (. * 100 | round / 100) else . end;
        def cell(f): (map(f) | "\(med | r) [\(min | r)–\(max | r)]");
        group_by(.variant)[] |
        "| \(.[0].variant) | \(cell(.peak_mib)) | \(cell(.idle_mib)) | \(cell(.ok)) | \(cell(.busy)) | \(cell(.dropped)) | \(cell(.p50_s)) | \(cell(.p95_s))"
        + " | \(map(select(.peak_mib * 1048576 <= 600e6 and .idle_mib * 1048576 <= 250e6 and .dropped == 0 and .other == 0
              and .busy_no_retry_after == 0 and .ok * 4 >= $n * 3)) | length)/\(length) |"' "$WORK/results.jsonl"
}
echo
summary | tee "${BENCH_SUMMARY:-/dev/null}"
