-- wrk script for benchmarks/cap_ingest.py: POST a CAP alert whose identifier is unique per
-- request (RUN-thread-counter spliced into a body template), count answers by status.
--   wrk -s cap_ingest_post.lua URL -- RUN TEMPLATE_FILE      (API key in $BENCH_API_KEY)
-- The template holds the placeholder @@ID@@ once; done() prints one JSON line for the runner.

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  run = args[1] or "RUN"
  local file = assert(io.open(args[2], "rb"))
  local body = file:read("*a")
  file:close()
  head, tail = body:match("^(.-)@@ID@@(.*)$")
  assert(head, "template lacks @@ID@@")
  headers = {
    ["Content-Type"] = "application/cap+xml",
    ["X-API-Key"] = assert(os.getenv("BENCH_API_KEY"), "BENCH_API_KEY unset"),
  }
  counter, sent, created, other = 0, 0, 0, 0
end

function request()
  counter = counter + 1
  sent = sent + 1
  local ident = run .. "-" .. tid .. "-" .. counter
  return wrk.format("POST", "/api/v1/alerts", headers, head .. ident .. tail)
end

function response(status, hdrs, body)
  if status == 201 then
    created = created + 1
  else
    other = other + 1
    if other <= 3 then
      io.stderr:write("status " .. status .. ": " .. string.sub(body, 1, 300) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local s, c, o = 0, 0, 0
  for _, t in ipairs(threads) do
    s = s + t:get("sent")
    c = c + t:get("created")
    o = o + t:get("other")
  end
  io.write(string.format(
    '{"sent": %d, "created": %d, "other": %d, "completed": %d, "seconds": %.6f, ' ..
    '"p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d}\n',
    s, c, o, summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout))
end
