-- Shared by the endpoint scripts (each one loads it first): counts 2xx and other responses
-- per thread, adds an Authorization header when BENCH_AUTHORIZATION is set, and prints one
-- line "BENCH_JSON {...}" with the run's figures for bench/bench.py to read.

local threads = {}

ok_2xx = 0
non_2xx = 0

local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization and authorization ~= "" then
   wrk.headers["Authorization"] = authorization
end

function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_id", #threads)
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      ok_2xx = ok_2xx + 1
   else
      non_2xx = non_2xx + 1
   end
end

function done(summary, latency, requests)
   local ok, bad = 0, 0
   for _, thread in ipairs(threads) do
      ok = ok + thread:get("ok_2xx")
      bad = bad + thread:get("non_2xx")
   end
   local errors = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "ok_2xx": %d, "non_2xx": %d, '
         .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
         .. '"latency_us": {"mean": %.1f, "stdev": %.1f, "max": %d, "p50": %d, "p90": %d, '
         .. '"p99": %d, "p999": %d}}\n',
      summary.requests, summary.duration, summary.bytes, ok, bad,
      errors.connect, errors.read, errors.write, errors.status, errors.timeout,
      latency.mean, latency.stdev, latency.max, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9)))
end
