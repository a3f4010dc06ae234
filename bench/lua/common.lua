-- Shared by every workload script: thread ids, an exact non-2xx count, a JSON summary.
-- Each script sets `make_request` (called per request) before loading this file.

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

max_id = tonumber(os.getenv("BENCH_MAX_ID") or "10000")
prefix = os.getenv("BENCH_PREFIX") or "run"
stop_after = tonumber(os.getenv("BENCH_STOP_AFTER") or "0")
-- The scoped workloads name their tenant (bench/apps/scoped.py), and so do their unscoped twins
-- (get, list100: the same request, the header unread); the others send no such header.
tenant = os.getenv("BENCH_TENANT")
read_headers = tenant and {["x-tenant"] = tenant} or {}

function init(args)
  non2xx = 0
  responses = 0
  counter = 0
  math.randomseed(os.time() * 1000 + tid)
end

function request()
  counter = counter + 1
  return make_request()
end

function response(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
  if stop_after > 0 and responses >= stop_after then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non2xx") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, bad,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
