-- wrk script: POST webhooks with the inbound bearer token, each with alerts never seen before.
--   BENCH_TOKEN=... wrk -t1 -cN -dDs -s webhook.lua http://HOST:PORT/alerts/NAME -- BODY.json SERIES
-- BODY.json holds the marker RQRQRQRQRQRQ in each alert's fingerprint; every request replaces
-- it with SERIES (4 hex digits, one per wrk invocation) and a request counter (8 hex digits),
-- so no two webhooks carry the same alert and the adapter's delivery memo never turns a send
-- into a skip: each alert costs one upstream request, as it does for new alerts in production.
-- At the end it prints one line `BENCH_JSON {...}` (latencies in microseconds) for run.py.

local template = nil
local series = 0
local counter = 0

function init(args)
  local f = assert(io.open(args[1], "rb"))
  template = f:read("*a")
  f:close()
  series = tonumber(args[2] or "0")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  local token = os.getenv("BENCH_TOKEN")
  if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
end

function request()
  counter = counter + 1
  local body = template:gsub("RQRQRQRQRQRQ", string.format("%04x%08x", series, counter))
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "max": %d, "p50": %d, "p90": %d, "p99": %d, "p999": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
