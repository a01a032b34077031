-- wrk script: client_credentials token requests, each with a fresh DPoP proof.
--
--   BENCH_PROOFS=proofs BENCH_THREADS=2 BENCH_PHASE=measure wrk -t2 -c32 -d20s --latency -s bench/dpop/dpop.lua URL
--
-- The proofs are built before the run by `oxidp-loadgen dpop-proofs` into BENCH_PROOFS.warmup and
-- BENCH_PROOFS.measure (wrk is run once per phase, BENCH_PHASE names it; one compact JWS a line,
-- every one with its own jti), so the measured server never shares the CPU with proof
-- signing. Thread i of n takes lines i, i+n, i+2n, ...; a thread that runs out of proofs
-- sends discovery GETs instead (counted as `exhausted`, which invalidates the run), since reusing
-- a proof would only measure the replay refusal. Client authentication and counters as in bench/token.lua; done() prints one
-- machine-readable line:
--   BENCH requests=N duration_us=N rps=F p50_us=N p99_us=N non200=N no_token=N socket_errors=N statuses=CODE:N,... exhausted=N

local proofs_file = (os.getenv("BENCH_PROOFS") or error("BENCH_PROOFS is not set")) .. "." .. (os.getenv("BENCH_PHASE") or "measure")
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

local function form_encode(s)
  return (s:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

local body = "grant_type=client_credentials&scope=" .. form_encode(scope)
local authorization = "Basic " .. base64(form_encode(client_id) .. ":" .. form_encode(client_secret))

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local proofs = {}
local next_proof = 1

function init(args)
  local total = tonumber(os.getenv("BENCH_THREADS") or "1")
  local line_no = 0
  for line in io.lines(proofs_file) do
    if line_no % total == thread_index then
      proofs[#proofs + 1] = line
    end
    line_no = line_no + 1
  end
end

non200 = 0
no_token = 0
exhausted = 0
statuses = {}

function request()
  local proof = proofs[next_proof]
  if proof == nil then
    exhausted = exhausted + 1
    -- Without a proof the request would only measure the refusal; ask for discovery instead
    -- so wrk keeps its connections, and count it.
    return wrk.format("GET", "/.well-known/openid-configuration")
  end
  next_proof = next_proof + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Accept"] = "application/json",
    ["Authorization"] = authorization,
    ["DPoP"] = proof,
  }, body)
end

function response(status, headers, body)
  if exhausted > 0 then
    return
  end
  if status ~= 200 then
    non200 = non200 + 1
    statuses[status] = (statuses[status] or 0) + 1
  elseif not body or not body:find('"token_type":"DPoP"', 1, true) then
    no_token = no_token + 1
  end
end

function done(summary, latency, requests)
  local total_non200, total_no_token, total_exhausted = 0, 0, 0
  local by_status = {}
  for _, t in ipairs(threads) do
    total_non200 = total_non200 + (t:get("non200") or 0)
    total_no_token = total_no_token + (t:get("no_token") or 0)
    total_exhausted = total_exhausted + (t:get("exhausted") or 0)
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
  io.write(string.format("non-200 responses: %d  200 without a DPoP token: %d  proofs exhausted: %d\n",
    total_non200, total_no_token, total_exhausted))
  if #parts > 0 then
    io.write("non-200 by status: " .. table.concat(parts, ", ") .. "\n")
  end
  io.write(string.format(
    "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d non200=%d no_token=%d socket_errors=%d statuses=%s exhausted=%d\n",
    summary.requests, summary.duration, rps,
    latency:percentile(50), latency:percentile(99),
    total_non200, total_no_token, socket_errors,
    (#parts > 0) and table.concat(parts, ",") or "none", total_exhausted))
end
