#!/usr/bin/env bash
# Token endpoint benchmark: oxidp (ES256, RS256) vs node-oidc-provider.
#
#   bash bench/run.sh
#
# Loads POST /connect/token (client_credentials, JWT access tokens) with wrk
# on loopback, prints requests/s and p50/p99 latency per target, the
# ES256 / node-oidc-provider ratio, and oxidp RS256 as a percentage of what
# `openssl speed rsa2048` signs per second on all cores.
#
# Environment knobs:
#   DURATION=20        seconds of measured load per target
#   WARMUP=3           seconds of unmeasured load before each measurement
#   CONNECTIONS=32     wrk connections (-c)
#   THREADS=2          wrk threads (-t)
#   ALGS="ES256 RS256" oxidp signing algorithms to run (empty: skip oxidp)
#   SKIP_NODE=1        skip node-oidc-provider
#   SKIP_BUILD=1       do not run cargo build (use an existing binary)
#   OXIDP_BIN=path     oxidp binary (default target/release/oxidp)
#   OPENSSL_SECONDS=5  seconds per openssl speed operation
#   KEEP_LOGS=1        keep the temp dir with server/wrk logs
#   WAIT_IDLE=0        wait up to this many seconds for an idle machine
#                      before each measurement (see IDLE_MAX)
#   IDLE_MAX=15        "idle": at most this % of one core busy; also the
#                      threshold above which "other CPU %" is flagged
#
# Everything listens on 127.0.0.1 only; every process started here is stopped
# by the EXIT trap; load is bounded by wrk's -d.
# Exit status: 0 when every measured run got only 200s with an access_token,
# 1 otherwise (a benchmark of 401s is worthless). Missing the performance
# targets does not fail the run; the summary says PASS/MISS.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)

DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
ALGS=${ALGS-ES256 RS256}
SKIP_NODE=${SKIP_NODE:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
OPENSSL_SECONDS=${OPENSSL_SECONDS:-5}
KEEP_LOGS=${KEEP_LOGS:-0}
WAIT_IDLE=${WAIT_IDLE:-0}
IDLE_MAX=${IDLE_MAX:-15}
OXIDP_BIN=${OXIDP_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/oxidp}
CLIENT_ID=bench
CLIENT_SECRET=bench-secret
SCOPE=api.read
RESOURCE=urn:bench:api

# Shared helpers: processes, CPU accounting, waiting, the measured load.
source "$BENCH_DIR/lib.sh"

# ---------------------------------------------------------------- tools

ensure_tools() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v curl >/dev/null || missing+=(curl)
  command -v openssl >/dev/null || missing+=(openssl)
  # node also picks free ports and decodes tokens for the checks below.
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  fi
  if [[ $SKIP_NODE != 1 && ! -d $BENCH_DIR/node/node_modules ]]; then
    log "installing bench/node dependencies"
    (cd "$BENCH_DIR/node" && { npm ci --no-audit --no-fund || npm install --no-audit --no-fund; })
  fi
}

# and scope. Prints the decoded header and claims.
check_token() { # url expected_alg name
  local url=$1 alg=$2 name=$3 out code
  out=$WORK/$name-check.json
  code=$(curl -sS -o "$out" -w '%{http_code}' --max-time 10 \
    -u "$CLIENT_ID:$CLIENT_SECRET" \
    -H 'Content-Type: application/x-www-form-urlencoded' \
    --data "grant_type=client_credentials&scope=$SCOPE" "$url") || code=000
  if [[ $code != 200 ]]; then
    printf 'run.sh: %s: token request returned HTTP %s: %s\n' "$name" "$code" "$(head -c 500 "$out" 2>/dev/null)" >&2
    return 1
  fi
  EXPECT_ALG=$alg EXPECT_AUD=$RESOURCE EXPECT_SCOPE=$SCOPE node -e '
    const fs = require("fs");
    const body = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    const fail = (m) => { console.error(`token check: ${m}: ${JSON.stringify(body)}`); process.exit(1); };
    const at = body.access_token;
    if (typeof at !== "string") fail("no access_token");
    const parts = at.split(".");
    if (parts.length !== 3) fail("access_token is not a JWS compact JWT");
    const dec = (s) => JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
    const header = dec(parts[0]);
    const claims = dec(parts[1]);
    console.error(`  token_type=${body.token_type} expires_in=${body.expires_in}`);
    console.error(`  header=${JSON.stringify(header)}`);
    console.error(`  claims=${JSON.stringify(claims)}`);
    if (header.alg !== process.env.EXPECT_ALG) fail(`alg ${header.alg}, expected ${process.env.EXPECT_ALG}`);
    const aud = [].concat(claims.aud ?? []);
    if (!aud.includes(process.env.EXPECT_AUD)) fail(`aud ${JSON.stringify(claims.aud)} lacks ${process.env.EXPECT_AUD}`);
    const scope = Array.isArray(claims.scope) ? claims.scope : String(claims.scope ?? "").split(" ");
    if (!scope.includes(process.env.EXPECT_SCOPE)) fail(`scope ${JSON.stringify(claims.scope)} lacks ${process.env.EXPECT_SCOPE}`);
  ' "$out"
}

# The final request of `load`: the server must still answer with a valid token.
after_load() { # name url
  check_token "$2" "${EXPECTED_ALG:?}" "$1-after"
}

# ---------------------------------------------------------------- oxidp

bench_oxidp() { # alg
  local alg=$1 name="oxidp-$1" dir port cfg pid base
  dir=$WORK/$name
  mkdir -p "$dir"
  cfg=$dir/oxidp.toml
  # The algorithm is set both in a per-run config copy and via env, so the
  # run does not depend on env array parsing.
  sed "s/^algorithms = .*/algorithms = [\"$alg\"]/" "$BENCH_DIR/oxidp-bench.toml" >"$cfg"
  port=$(free_port)
  base=http://127.0.0.1:$port
  log "$name: starting $OXIDP_BIN serve on $base (data dir $dir)"
  OXIDP_SERVER__LISTEN=127.0.0.1:$port \
    OXIDP_STORE__URL="sqlite://$dir/oxidp.db" \
    OXIDP_KEYS__ALGORITHMS="[\"$alg\"]" \
    RUST_LOG=${RUST_LOG:-warn} \
    "$OXIDP_BIN" serve --config "$cfg" >"$dir/server.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_http "$base/healthz" "$pid" "$dir/server.log"
  log "$name: up (pid $pid); checking one token"
  if ! check_token "$base/connect/token" "$alg" "$name"; then
    show_log "$dir/server.log"
    die "$name: token check failed"
  fi
  EXPECTED_ALG=$alg load "$name" "$base/connect/token" "$pid"
  stop_pid "$pid"
  if grep -qiE 'panic|error' "$dir/server.log"; then
    log "$name: server log has errors:"
    show_log "$dir/server.log"
  fi
}

# ---------------------------------------------------------------- node

NODE_ALG=ES256
bench_node() {
  local name=node dir port pid base
  dir=$WORK/node
  mkdir -p "$dir"
  port=$(free_port)
  base=http://127.0.0.1:$port
  log "node-oidc-provider $(node -p 'require("'"$BENCH_DIR"'/node/node_modules/oidc-provider/package.json").version') on node $(node --version), $base"
  (cd "$BENCH_DIR/node" && PORT=$port NODE_ENV=production exec node server.mjs) >"$dir/server.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_http "$base/.well-known/openid-configuration" "$pid" "$dir/server.log"
  log "node: up (pid $pid); checking one token"
  if ! check_token "$base/connect/token" "$NODE_ALG" node; then
    show_log "$dir/server.log"
    die "node: token check failed"
  fi
  EXPECTED_ALG=$NODE_ALG load node "$base/connect/token" "$pid"
  stop_pid "$pid"
  if grep -q 'server_error' "$dir/server.log"; then
    log "node: server log has errors:"
    show_log "$dir/server.log"
  fi
}

# ---------------------------------------------------------------- openssl

OPENSSL_SIGN=""
OPENSSL_OTHER=""
bench_openssl() {
  local cores out
  cores=$(nproc)
  out=$WORK/openssl-speed.txt
  wait_idle openssl
  log "openssl speed -seconds $OPENSSL_SECONDS -multi $cores rsa2048"
  local m0 m1 w0 w1 t0 t1
  children_seconds "$WORK/times.txt" >"$WORK/times.val"
  w0=$(cat "$WORK/times.val")
  m0=$(machine_busy_seconds)
  t0=$(date +%s.%N)
  run_bg "$out" openssl speed -seconds "$OPENSSL_SECONDS" -multi "$cores" rsa2048 || {
    cat "$out" >&2
    die "openssl speed failed"
  }
  t1=$(date +%s.%N)
  m1=$(machine_busy_seconds)
  children_seconds "$WORK/times.txt" >"$WORK/times.val"
  w1=$(cat "$WORK/times.val")
  OPENSSL_OTHER=$(awk -v m0="$m0" -v m1="$m1" -v w0="$w0" -v w1="$w1" -v t0="$t0" -v t1="$t1" \
    'BEGIN { o = 100 * ((m1 - m0) - (w1 - w0)) / (t1 - t0); if (o < 0) o = 0; printf "%.0f", o }')
  # "rsa 2048 bits 0.000125s 0.000008s   8018.0 119514.0" -> sign/s is $6
  OPENSSL_SIGN=$(awk '/^rsa 2048 bits/ { print $6; exit }' "$out")
  [[ -n $OPENSSL_SIGN ]] || {
    cat "$out" >&2
    die "could not parse sign/s from openssl speed"
  }
  tail -n 2 "$out" >&2
}

# ---------------------------------------------------------------- main

cd "$ROOT"
ensure_tools

if [[ -n $ALGS ]]; then
  if [[ $SKIP_BUILD != 1 ]]; then
    log "cargo build --release -p oxidp"
    cargo build --release -p oxidp
  fi
  [[ -x $OXIDP_BIN ]] || die "oxidp binary not found at $OXIDP_BIN"
fi

for alg in $ALGS; do
  bench_oxidp "$alg"
done
if [[ $SKIP_NODE != 1 ]]; then
  bench_node
fi
bench_openssl

# ---------------------------------------------------------------- summary

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
printf '\n'
printf '## Results %s\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
printf 'Machine: %s cores (%s); wrk -t%s -c%s -d%ss on loopback, sharing the cores with the server.\n\n' \
  "$(nproc)" "$cpu_model" "$THREADS" "$CONNECTIONS" "$DURATION"
printf 'oxidp: %s; node %s, oidc-provider %s; %s; %s.\n\n' \
  "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)" \
  "$(node --version)" \
  "$(node -p 'require(process.argv[1]).version' "$BENCH_DIR/node/node_modules/oidc-provider/package.json" 2>/dev/null || echo '?')" \
  "$(wrk --version 2>&1 | awk 'NR == 1 { print $1, $2 }')" \
  "$(openssl version)"
printf '| target | alg | requests/s | p50 ms | p99 ms | server CPU %% | wrk CPU %% | other CPU %% | note |\n'
printf '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n'
row() { # label alg name
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "${RPS[$3]}" "${P50[$3]}" "${P99[$3]}" \
    "${CPU[$3]}" "${WRKCPU[$3]}" "${OTHER[$3]}" "${BAD[$3]:-}"
}
for alg in $ALGS; do
  row oxidp "$alg" "oxidp-$alg"
done
if [[ $SKIP_NODE != 1 ]]; then
  row node-oidc-provider "$NODE_ALG" node
fi
printf '| openssl speed rsa2048 sign/s, -multi %s | RS256 | %s | | | | | %s | |\n' "$(nproc)" "$OPENSSL_SIGN" "$OPENSSL_OTHER"
printf '\n'

if [[ -n ${RPS[oxidp-ES256]:-} && -n ${RPS[node]:-} ]]; then
  awk -v a="${RPS[oxidp-ES256]}" -v b="${RPS[node]}" 'BEGIN {
    r = a / b
    printf "- ES256 oxidp / node-oidc-provider: %.2fx (target >= 8x): %s\n", r, (r >= 8 ? "PASS" : sprintf("MISS, %.0f%% of target", 100 * r / 8))
  }'
fi
if [[ -n ${RPS[oxidp-RS256]:-} ]]; then
  awk -v a="${RPS[oxidp-RS256]}" -v b="$OPENSSL_SIGN" -v c="$(nproc)" 'BEGIN {
    p = 100 * a / b
    printf "- RS256 oxidp / openssl %s-core sign/s: %.1f%% (target >= 70%%): %s\n", c, p, (p >= 70 ? "PASS" : sprintf("MISS by %.1f points", 70 - p))
  }'
fi

if ((FAILED)); then
  printf '\nrun.sh: some runs had non-200 responses, missing tokens or socket errors; the figures above are INVALID\n' >&2
  exit 1
fi
