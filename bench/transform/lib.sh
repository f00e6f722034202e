# Shared by bench/transform.sh, bench/transform_burst.sh and bench/transform_memory.sh (source it
# from the repository root, after `set -euo pipefail`): the generated input image, free ports,
# starting and stopping a server, RSS figures of a process, and the CMA upload flow.
# Each caller defines die (print and exit 1) before sourcing.

TRANSFORM_BENCH_HERE=bench/transform

# The input: a deterministic photograph-like JPEG made by gen-image.mjs with sharp (installed
# into bench/transform/node_modules by npm ci when missing or of another version), cached.
ensure_input() { # cache_dir width height quality grain -> prints the input's path
    local input="$1/input-${2}x${3}-q${4}-grain${5}.jpg"
    if [ ! -s "$input" ]; then
        ensure_sharp
        mkdir -p "$1"
        printf '== generating the input image %s\n' "$input" >&2
        node "$TRANSFORM_BENCH_HERE/gen-image.mjs" "$input.tmp" "$2" "$3" "$4" "$5" >&2
        mv "$input.tmp" "$input"
    fi
    echo "$input"
}

ensure_sharp() {
    if ! (cd "$TRANSFORM_BENCH_HERE" && node -e 'const fs = require("fs"), read = (f) => JSON.parse(fs.readFileSync(f, "utf8"));
        process.exit(read("node_modules/sharp/package.json").version === read("package-lock.json").packages["node_modules/sharp"].version ? 0 : 1)') 2>/dev/null; then
        printf '== installing sharp into %s/node_modules (npm ci)\n' "$TRANSFORM_BENCH_HERE" >&2
        (cd "$TRANSFORM_BENCH_HERE" && npm ci --no-audit --no-fund >&2)
    fi
}

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

reset_peak() { # pid: make VmHWM the current RSS (Linux: clear_refs 5), so the peak covers what follows
    echo 5 >"/proc/$1/clear_refs" 2>/dev/null || printf '!! cannot reset the peak RSS of pid %s: it includes the start\n' "$1" >&2
}

peak_kb() { # pid -> VmHWM in kB
    awk '/^VmHWM:/ {print $2}' "/proc/$1/status"
}

rss_kb() { # pid -> VmRSS in kB
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

upload_to() { # base token work-dir file name -> prints the upload's public path (/<project>/<...>)
    local base="$1" work="$3" request path url job code id
    local cma=(-H "Authorization: Bearer $2" -H "Accept: application/json" -H "X-Api-Version: 3")
    local json_api=(-H "Content-Type: application/vnd.api+json")
    request="$(curl -sS --fail-with-body "${cma[@]}" "${json_api[@]}" -X POST "$base/upload-requests" \
        -d "$(jq -nc --arg name "$5" '{data: {type: "upload_request", attributes: {filename: $name}}}')")"
    path="$(jq -er .data.id <<<"$request")"
    url="$(jq -er .data.attributes.url <<<"$request")"
    curl -sS --fail-with-body -X PUT --data-binary "@$4" "$url" >/dev/null
    job="$(curl -sS --fail-with-body "${cma[@]}" "${json_api[@]}" -X POST "$base/uploads" \
        -d "$(jq -nc --arg path "$path" '{data: {type: "upload", attributes: {path: $path}}}')" | jq -er .data.id)"
    for _ in $(seq 1 600); do
        code="$(curl -sS -o "$work/job.json" -w '%{http_code}' "${cma[@]}" "$base/job-results/$job")"
        case "$code" in
        200)
            jq -e '.data.attributes.status == 200' "$work/job.json" >/dev/null ||
                die "uploading $5 failed: $(cat "$work/job.json")"
            id="$(jq -er .data.attributes.payload.data.id "$work/job.json")"
            url="$(curl -sS --fail-with-body "${cma[@]}" "$base/uploads/$id" | jq -er .data.attributes.url)"
            [ "${url#"$base"/}" != "$url" ] || die "upload $id has url $url, not under $base"
            echo "${url#"$base"}"
            return 0
            ;;
        404) sleep 0.05 ;;
        *) die "GET /job-results/$job answered $code: $(cat "$work/job.json")" ;;
        esac
    done
    die "upload of $5 not done within 30 s"
}
