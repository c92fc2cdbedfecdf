-- wrk script: POST /graphql with the request bodies in the file $BODIES (one JSON body a
-- line), taking the bodies in turn (one counter per wrk thread, shared by its
-- connections), and one JSON line with the results at the end (for bench/perf/perf.py). $ACCEPT_ENCODING, when set, is sent as
-- Accept-Encoding (by default none is, so answers come uncompressed).

local requests = {}
local next_request = 0

function init(args)
   local path = os.getenv("BODIES")
   if path == nil or path == "" then
      error("set BODIES to a file of request bodies, one a line")
   end
   local headers = {
      ["Content-Type"] = "application/json",
      ["Accept"] = "application/json",
   }
   local encoding = os.getenv("ACCEPT_ENCODING")
   if encoding ~= nil and encoding ~= "" then
      headers["Accept-Encoding"] = encoding
   end
   for line in io.lines(path) do
      if #line > 0 then
         requests[#requests + 1] = wrk.format("POST", "/graphql", headers, line)
      end
   end
   if #requests == 0 then
      error("no request bodies in " .. path)
   end
   -- Threads (and so their connections) start at different bodies.
   next_request = (math.random(#requests) - 1)
end

function request()
   next_request = next_request % #requests + 1
   return requests[next_request]
end

function done(summary, latency, requests)
   local errors = summary.errors
   io.write(string.format(
      '{"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, ' ..
      '"read_errors": %d, "write_errors": %d, "non_2xx": %d, "timeouts": %d, ' ..
      '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d}\n',
      summary.requests, summary.duration, summary.bytes, errors.connect,
      errors.read, errors.write, errors.status, errors.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.mean, latency.max))
end
