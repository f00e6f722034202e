-- wrk script for bench/run.sh: sends the CMA headers on every request and prints one JSON line
-- (`BENCH_JSON {...}`) with the figures when the run is done.
-- Environment: BENCH_TOKEN (the bearer secret), BENCH_LABEL (a name for the line).

local token = os.getenv("BENCH_TOKEN") or ""
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Accept"] = "application/json"
wrk.headers["X-Api-Version"] = "3"

function done(summary, latency, requests)
   local secs = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"bench":"get","label":"%s","requests":%d,"duration_s":%.3f,"requests_per_s":%.1f,'
         .. '"bytes":%d,"mean_ms":%.3f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
      os.getenv("BENCH_LABEL") or "", summary.requests, secs, summary.requests / secs, summary.bytes,
      latency.mean / 1e3, latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
      latency:percentile(99) / 1e3, latency.max / 1e3,
      e.connect, e.read, e.write, e.status, e.timeout))
end
