-- wrk script of bench/transform.sh. Run with -t1 (one Lua state per wrk instance; the index counter
-- below is per thread). Two modes:
--
-- Sequence (BENCH_FILES set): request k of this wrk instance asks for sequence index
--   n = BENCH_START + k * BENCH_STEP, i.e. width w = BENCH_WMIN + (n mod BENCH_WCOUNT) of copy
--   c = floor(n / BENCH_WCOUNT) mod (number of copies), the rule of the header of bench/transform.sh.
--   BENCH_FILES names a file with one path per line (line c + 1 = copy c); BENCH_TEMPLATE is the request
--   path with {file} and {w} in it, e.g. "{file}?w={w}&fm=jpg&q=80" or
--   "/unsafe/{w}x0/filters:quality(80):format(jpeg)/{file}". Two instances with BENCH_STEP=2 and
--   BENCH_START s and s + 1 split one sequence (thumbor: one instance per process).
-- List (BENCH_URLS set): cycles through the request paths listed in that file, one per line.
-- wrk calls request() once before the run to check the script (on the first thread's state): that first
-- index is counted as issued and never sent, which only skips it.
--
-- Prints one `BENCH_JSON {...}` line when done: requests/s, latency, errors, the number of requests
-- issued (completed or not), the next sequence index and whether any (copy, width) pair repeated.
-- BENCH_XCACHE=1 also counts the answers' X-Cache header (assetd: MISS rendered now, HIT from its cache of
-- derived images); it hands every response to Lua, so it is for the slow uncached phases only.
-- Environment also: BENCH_LABEL, BENCH_ENGINE, BENCH_FORMAT, BENCH_PHASE, BENCH_ROUND (copied to the line).

local function lines(path)
   local t = {}
   local f = assert(io.open(path, "r"))
   for line in f:lines() do
      if line ~= "" then t[#t + 1] = line end
   end
   f:close()
   return t
end

local env = os.getenv
local files_path, urls_path = env("BENCH_FILES"), env("BENCH_URLS")
local start = tonumber(env("BENCH_START") or "0")
local step = tonumber(env("BENCH_STEP") or "1")
local wmin = tonumber(env("BENCH_WMIN") or "560")
local wcount = tonumber(env("BENCH_WCOUNT") or "161")
local template = env("BENCH_TEMPLATE") or "{file}"

local files, urls
if files_path then files = lines(files_path) else urls = lines(assert(urls_path, "set BENCH_FILES or BENCH_URLS")) end

issued = 0     -- requests built by this thread (read from done() through thread:get)
exhausted = 0  -- requests whose index was past copies × widths (their pair had been used already)

function request()
   local path
   if files then
      local n = start + issued * step
      if n >= #files * wcount then exhausted = exhausted + 1 end
      local w = wmin + n % wcount
      local file = files[math.floor(n / wcount) % #files + 1]
      path = template:gsub("{file}", function() return file end):gsub("{w}", tostring(w))
   else
      path = urls[issued % #urls + 1]
   end
   issued = issued + 1
   return wrk.format("GET", path)
end

xcache_hit, xcache_miss, xcache_other = 0, 0, 0
if env("BENCH_XCACHE") == "1" then
   function response(status, headers, body)
      local v = headers["x-cache"] or headers["X-Cache"]
      if v == "HIT" then xcache_hit = xcache_hit + 1
      elseif v == "MISS" then xcache_miss = xcache_miss + 1
      else xcache_other = xcache_other + 1 end
   end
end

local threads = {}
function setup(thread) threads[#threads + 1] = thread end

function done(summary, latency, requests)
   local n_issued, n_exhausted, hit, miss, other = 0, 0, 0, 0, 0
   for _, t in ipairs(threads) do
      n_issued = n_issued + t:get("issued")
      n_exhausted = n_exhausted + t:get("exhausted")
      hit = hit + t:get("xcache_hit")
      miss = miss + t:get("xcache_miss")
      other = other + t:get("xcache_other")
   end
   local secs = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"bench":"transform","label":"%s","engine":"%s","format":"%s","phase":"%s","round":%d,'
         .. '"requests":%d,"duration_s":%.3f,"requests_per_s":%.2f,"bytes":%d,"mean_ms":%.3f,"p50_ms":%.3f,'
         .. '"p99_ms":%.3f,"max_ms":%.3f,"issued":%d,"next_index":%d,"exhausted":%d,'
         .. '"x_cache":{"checked":%s,"hit":%d,"miss":%d,"other":%d},'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
      env("BENCH_LABEL") or "", env("BENCH_ENGINE") or "", env("BENCH_FORMAT") or "", env("BENCH_PHASE") or "",
      tonumber(env("BENCH_ROUND") or "0"), summary.requests, secs, summary.requests / secs, summary.bytes,
      latency.mean / 1e3, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3,
      n_issued, start + n_issued * step, n_exhausted,
      env("BENCH_XCACHE") == "1" and "true" or "false", hit, miss, other,
      e.connect, e.read, e.write, e.status, e.timeout))
end
