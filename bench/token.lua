-- wrk script: OAuth 2.0 client_credentials token requests.
--
--   wrk -t2 -c32 -d20s --latency -s bench/token.lua http://127.0.0.1:PORT/connect/token
--
-- POSTs grant_type=client_credentials&scope=... as
-- application/x-www-form-urlencoded with HTTP Basic client authentication.
-- Environment (all optional):
--   BENCH_CLIENT_ID      default "bench"
--   BENCH_CLIENT_SECRET  default "bench-secret"
--   BENCH_SCOPE          default "api.read"
--
-- Every response that is not a 200 carrying an "access_token" is counted; a
-- benchmark of 401s is worthless, so done() prints the counts and a single
-- machine-readable line for bench/run.sh:
--   BENCH requests=N duration_us=N rps=F p50_us=N p99_us=N non200=N no_token=N socket_errors=N statuses=CODE:N,...

local client_id = os.getenv("BENCH_CLIENT_ID") or "bench"
local client_secret = os.getenv("BENCH_CLIENT_SECRET") or "bench-secret"
local scope = os.getenv("BENCH_SCOPE") or "api.read"

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(data)
  return ((data:gsub(".", function(x)
    local r, b = "", x:byte()
    for i = 8, 1, -1 do
      r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0")
    end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then
      return ""
    end
    local c = 0
    for i = 1, 6 do
      c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0)
    end
    return b64chars:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#data % 3 + 1])
end

-- RFC 6749 section 2.3.1: client_id and secret are form-urlencoded before
-- being joined for Basic auth.
local function form_encode(s)
  return (s:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=" .. form_encode(scope)
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Accept"] = "application/json"
wrk.headers["Authorization"] = "Basic "
  .. base64(form_encode(client_id) .. ":" .. form_encode(client_secret))

-- Per-thread counters (each wrk thread has its own Lua state); collected in
-- done() through the thread objects kept by setup().
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

non200 = 0
no_token = 0
statuses = {}

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    statuses[status] = (statuses[status] or 0) + 1
  elseif not body or not body:find('"access_token"', 1, true) then
    no_token = no_token + 1
  end
end

function done(summary, latency, requests)
  local total_non200, total_no_token = 0, 0
  local by_status = {}
  for _, t in ipairs(threads) do
    total_non200 = total_non200 + (t:get("non200") or 0)
    total_no_token = total_no_token + (t:get("no_token") or 0)
    local s = t:get("statuses")
    if s then
      for code, n in pairs(s) do
        by_status[code] = (by_status[code] or 0) + n
      end
    end
  end

  local parts = {}
  for code, n in pairs(by_status) do
    table.insert(parts, tostring(code) .. ":" .. tostring(n))
  end
  table.sort(parts)

  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local rps = 0
  if summary.duration > 0 then
    rps = summary.requests / (summary.duration / 1e6)
  end

  io.write(string.format("non-200 responses: %d  200 without access_token: %d\n",
    total_non200, total_no_token))
  if #parts > 0 then
    io.write("non-200 by status: " .. table.concat(parts, ", ") .. "\n")
  end
  io.write(string.format(
    "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d non200=%d no_token=%d socket_errors=%d statuses=%s\n",
    summary.requests, summary.duration, rps,
    latency:percentile(50), latency:percentile(99),
    total_non200, total_no_token, socket_errors,
    (#parts > 0) and table.concat(parts, ",") or "none"))
end
