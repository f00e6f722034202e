// The in-process sharp baseline of bench/transform.sh: WORKERS async workers (2: "concurrency 2"), each
// awaiting sharp(<copy path>).resize({ width }).jpeg|webp({ quality }).toBuffer() in a loop, for WARMUP s
// (not counted) then SECS s. Every operation reads and decodes its input from the file (nothing decoded is
// kept; libvips' operation cache is switched off unless --vips-cache 1, see below). Operation i of the run
// follows the request sequence of the header of bench/transform.sh: index n = START + i,
// width = WMIN + (n mod WCOUNT), copy = floor(n / WCOUNT) mod COPIES (DIR/copy-NNNN.jpg).
// Prints one line `BENCH_JSON {...}` with ops/s, the index to start the next run at, the peak RSS and the CPU
// time per operation (process.cpuUsage over the counted window, every thread of the process).
//
// Usage: node sharp-run.mjs --dir DIR --copies N --format jpeg|webp [--secs 20] [--warmup 3]
//        [--start 0] [--workers 2] [--quality 80] [--wmin 560] [--wcount 161] [--vips-cache 0]
//        [--label sharp] [--round 1]
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import sharp from "sharp";

const { values: a } = parseArgs({
  options: {
    dir: { type: "string" }, copies: { type: "string" }, format: { type: "string", default: "jpeg" },
    secs: { type: "string", default: "20" }, warmup: { type: "string", default: "3" },
    start: { type: "string", default: "0" }, workers: { type: "string", default: "2" },
    quality: { type: "string", default: "80" }, wmin: { type: "string", default: "560" },
    wcount: { type: "string", default: "161" }, "vips-cache": { type: "string", default: "0" },
    label: { type: "string", default: "sharp" }, round: { type: "string", default: "0" },
  },
});
if (!a.dir || !a.copies || !["jpeg", "webp"].includes(a.format)) {
  console.error("usage: node sharp-run.mjs --dir DIR --copies N --format jpeg|webp [...]");
  process.exit(2);
}
const copies = Number(a.copies), wmin = Number(a.wmin), wcount = Number(a.wcount), quality = Number(a.quality);
const secs = Number(a.secs), warmup = Number(a.warmup), workers = Number(a.workers);
const copyPath = (c) => `${a.dir}/copy-${String(c).padStart(4, "0")}.jpg`;

// libvips caches the results of recent operations (sharp's default: 50 MB, 20 files, 100 items), which
// could hand a worker an already opened input instead of reading the file: the benchmark wants every
// request to pay for its read and decode, as a server answering new URLs does.
const defaultCache = sharp.cache();
if (a["vips-cache"] !== "1") sharp.cache(false);

let next = Number(a.start); // the sequence index of the next operation
let counted = 0, outBytes = 0, lastWidth = 0, exhausted = false;
const limit = copies * wcount; // indices past this would repeat a (copy, width) pair
const t0 = performance.now(), tCount = t0 + warmup * 1000, tEnd = tCount + secs * 1000;
// The process's CPU time over the counted window (all threads: libvips' and libuv's too).
let cpuAtCount = null, cpuWindow = null;
setTimeout(() => (cpuAtCount = process.cpuUsage()), warmup * 1000);
setTimeout(() => (cpuWindow = process.cpuUsage(cpuAtCount ?? undefined)), (warmup + secs) * 1000);

async function worker() {
  while (performance.now() < tEnd) {
    const n = next++;
    if (n >= limit) exhausted = true;
    const width = wmin + (n % wcount);
    const pipeline = sharp(copyPath(Math.floor(n / wcount) % copies)).resize({ width });
    const out = await (a.format === "jpeg" ? pipeline.jpeg({ quality }) : pipeline.webp({ quality })).toBuffer();
    const now = performance.now();
    if (now >= tCount && now <= tEnd) {
      counted++;
      outBytes += out.length;
    }
    lastWidth = width;
  }
}
await Promise.all(Array.from({ length: workers }, worker));
const elapsed = (Math.min(performance.now(), tEnd) - tCount) / 1000;
const ru = process.resourceUsage();
cpuWindow ??= process.cpuUsage(cpuAtCount ?? undefined);
const cpuMs = (cpuWindow.user + cpuWindow.system) / 1000;
console.log(
  "BENCH_JSON " +
    JSON.stringify({
      bench: "transform", engine: a.label, format: a.format, round: Number(a.round), ops: counted,
      duration_s: +elapsed.toFixed(3), ops_per_s: +(counted / elapsed).toFixed(2),
      mean_out_bytes: counted ? Math.round(outBytes / counted) : 0, next_index: next, exhausted,
      max_rss_kb: ru.maxRSS, cpu_ms_per_op: counted ? +(cpuMs / counted).toFixed(1) : null,
      cpu_ms_total: Math.round((ru.userCPUTime + ru.systemCPUTime) / 1000), workers, sharp: sharp.versions.sharp, libvips: sharp.versions.vips,
      sharp_concurrency: sharp.concurrency(), uv_threadpool_size: process.env.UV_THREADPOOL_SIZE ?? "default (4)",
      vips_cache: a["vips-cache"] === "1" ? defaultCache : "off", simd: sharp.simd(), last_width: lastWidth,
    }),
);
