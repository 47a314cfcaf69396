-- wrk script of scripts/bench-processing.sh: POSTs the envelope in $ENVELOPE to
-- /api/$PROJECT_ID/envelope/ (default 42) with the DSN key $DSN_KEY, and prints one RESULT line
-- with requests/s, p50/p99/max latency, socket errors and the count of every status code.
local f = assert(io.open(os.getenv("ENVELOPE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.path = "/api/" .. (os.getenv("PROJECT_ID") or "42") .. "/envelope/"
wrk.headers["Content-Type"] = "application/x-sentry-envelope"
wrk.headers["X-Sentry-Auth"] = "Sentry sentry_version=7, sentry_key="
  .. (os.getenv("DSN_KEY") or "31a5a894b4524f74a9a8d0e27e21ba91") .. ", sentry_client=perf/1.0"

-- Each wrk thread has its own Lua state: `codes` lives there and done() collects it.
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

codes = {}
function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("codes") or {}) do
      merged[status] = (merged[status] or 0) + n
    end
  end
  local statuses = {}
  for status in pairs(merged) do table.insert(statuses, status) end
  table.sort(statuses)
  local parts = {}
  for _, status in ipairs(statuses) do
    table.insert(parts, string.format("%d:%d", status, merged[status]))
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d secs=%.2f rps=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f socket_errors=%d codes=%s\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.connect + e.read + e.write + e.timeout, table.concat(parts, ",")))
end
