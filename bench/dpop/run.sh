#!/usr/bin/env bash
# DPoP token-endpoint benchmark: client credentials with a fresh DPoP proof per request
# against plain client credentials, both ES256, side by side on the same server, on SQLite and
# on PostgreSQL. A benchmark, not a test: it prints figures and PASS/MISS against the target
# (DPoP at least 60% of plain), and exits non-zero only when a run had errors.
#
#   bash bench/dpop/run.sh
#
# The proofs are signed before each measured run by `oxidp-loadgen dpop-proofs` (one key, a
# fresh jti per proof), sized from the plain run's rate, so the server never shares the CPU
# with proof signing; wrk (bench/dpop/dpop.lua) sends each proof once.
# From the server's /metrics, before and after each DPoP run, it reports what proof validation
# costs per request and the replay store's share of it.
#
# Knobs (environment): STORES="sqlite postgres", DURATION=20 (s, at most 40: the proofs must
# stay within the server's 60 s proof age), WARMUP=3, CONNECTIONS=32, THREADS=2, SKIP_BUILD=1,
# KEEP_LOGS=1, WAIT_IDLE=0, IDLE_MAX=15, DATABASE_URL (PostgreSQL server, default
# postgres://postgres@127.0.0.1:5432; the script creates and drops the database
# oxidp_bench_dpop on it).
#
# Everything listens on 127.0.0.1 only; every process started here is stopped by the EXIT trap.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)

STORES=${STORES:-sqlite postgres}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_LOGS=${KEEP_LOGS:-0}
WAIT_IDLE=${WAIT_IDLE:-0}
IDLE_MAX=${IDLE_MAX:-15}
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432}
OXIDP_BIN=${OXIDP_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/oxidp}
LOADGEN=${LOADGEN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/oxidp-loadgen}
CLIENT_ID=bench
CLIENT_SECRET=bench-secret
SCOPE=api.read
TARGET=60 # DPoP requests/s as a % of plain client credentials
BENCH_DB=oxidp_bench_dpop

((DURATION <= 40)) || { echo "run.sh: DURATION must be at most 40 s (proof age)" >&2; exit 2; }

source "$BENCH_DIR/lib.sh"

ensure_tools() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v curl >/dev/null || missing+=(curl)
  command -v node >/dev/null || missing+=(nodejs)
  command -v psql >/dev/null || missing+=(postgresql-client)
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  fi
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# One token request, with a proof when given; checks 200 and the token type.
token_request() { # url expected_token_type [proof]
  local out=$WORK/check.json code
  local args=(-sS -o "$out" -w '%{http_code}' --max-time 10 -u "$CLIENT_ID:$CLIENT_SECRET"
    -H 'Content-Type: application/x-www-form-urlencoded'
    --data "grant_type=client_credentials&scope=$SCOPE")
  [[ -z ${3:-} ]] || args+=(-H "DPoP: $3")
  code=$(curl "${args[@]}" "$1") || code=000
  if [[ $code != 200 ]] || ! grep -q "\"token_type\":\"$2\"" "$out"; then
    printf 'run.sh: token request returned HTTP %s: %s\n' "$code" "$(head -c 500 "$out")" >&2
    return 1
  fi
}

# The final request after a load: plain, or with one more unused proof.
after_load() { # name url
  case $1 in
    dpop-*) token_request "$2" DPoP "$(cat "$PROOFS.after")" ;;
    *) token_request "$2" Bearer ;;
  esac
}

# Sum and count of a Prometheus histogram, "sum count", from a /metrics scrape.
histogram() { # file metric
  awk -v m="$2" '$1 == m "_sum" { s = $2 } $1 == m "_count" { c = $2 } END { printf "%s %s\n", s + 0, c + 0 }' "$1"
}

sign_proofs() { # url count phase
  "$LOADGEN" dpop-proofs --htu "$1" --htm POST --count "$2" --out "$PROOFS.$3" >&2
}

declare -A VERIFY_US REPLAY_SHARE CPU_US

bench_store() { # store
  local store=$1 dir port base cfg pid url plain count m0 m1
  dir=$WORK/$store
  mkdir -p "$dir"
  cfg=$BENCH_DIR/dpop/oxidp-dpop-bench.toml
  case $store in
    sqlite) url="sqlite://$dir/oxidp.db" ;;
    postgres)
      psql "$DATABASE_URL/postgres" -qc "DROP DATABASE IF EXISTS $BENCH_DB" -c "CREATE DATABASE $BENCH_DB" >/dev/null ||
        die "cannot create the database $BENCH_DB on $DATABASE_URL (is PostgreSQL running?)"
      url="$DATABASE_URL/$BENCH_DB"
      ;;
    *) die "unknown store $store (sqlite or postgres)" ;;
  esac
  port=$(free_port)
  base=http://127.0.0.1:$port
  log "$store: starting $OXIDP_BIN serve on $base"
  OXIDP_SERVER__LISTEN=127.0.0.1:$port OXIDP_STORE__URL="$url" RUST_LOG=${RUST_LOG:-warn} \
    "$OXIDP_BIN" serve --config "$cfg" >"$dir/server.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_http "$base/healthz" "$pid" "$dir/server.log"
  token_request "$base/connect/token" Bearer || die "$store: plain token check failed"

  LOAD_SCRIPT=$BENCH_DIR/token.lua EXTRA_ZERO_FIELDS="" load "plain-$store" "$base/connect/token" "$pid"
  plain=${RPS[plain-$store]%.*}

  # Enough proofs for the warm-up and the measured run at the plain rate (DPoP is not faster),
  # plus a margin; a run that still runs out is flagged by EXTRA_ZERO_FIELDS=exhausted.
  PROOFS=$dir/proofs
  log "$store: signing proofs for ${WARMUP}s + ${DURATION}s at up to $plain requests/s"
  sign_proofs "$base/connect/token" $((plain * WARMUP * 3 / 2 + 100)) warmup
  sign_proofs "$base/connect/token" $((plain * DURATION * 13 / 10 + 100)) measure
  sign_proofs "$base/connect/token" 1 after
  token_request "$base/connect/token" DPoP "$(cat "$PROOFS.after")" || die "$store: DPoP token check failed"
  sign_proofs "$base/connect/token" 1 after

  curl -fsS "$base/metrics" >"$dir/metrics-before.txt"
  BENCH_PROOFS=$PROOFS BENCH_THREADS=$THREADS LOAD_SCRIPT=$BENCH_DIR/dpop/dpop.lua \
    EXTRA_ZERO_FIELDS=exhausted load "dpop-$store" "$base/connect/token" "$pid"
  curl -fsS "$base/metrics" >"$dir/metrics-after.txt"

  read -r s0 c0 < <(histogram "$dir/metrics-before.txt" oxidp_dpop_proof_validation_duration_seconds)
  read -r s1 c1 < <(histogram "$dir/metrics-after.txt" oxidp_dpop_proof_validation_duration_seconds)
  read -r r0 rc0 < <(histogram "$dir/metrics-before.txt" oxidp_dpop_replay_check_duration_seconds)
  read -r r1 rc1 < <(histogram "$dir/metrics-after.txt" oxidp_dpop_replay_check_duration_seconds)
  VERIFY_US[$store]=$(awk -v a="$s0" -v b="$s1" -v x="$c0" -v y="$c1" 'BEGIN { n = y - x; printf "%.1f", (n > 0 ? 1e6 * (b - a) / n : 0) }')
  REPLAY_SHARE[$store]=$(awk -v a="$r0" -v b="$r1" -v c="$s0" -v d="$s1" 'BEGIN { t = d - c; printf "%.0f", (t > 0 ? 100 * (b - a) / t : 0) }')
  for name in "plain-$store" "dpop-$store"; do
    CPU_US[$name]=$(awk -v cpu="${CPU[$name]}" -v rps="${RPS[$name]}" 'BEGIN { printf "%.0f", (rps > 0 ? 1e4 * cpu / rps : 0) }')
  done
  stop_pid "$pid"
  if grep -qiE 'panic|error' "$dir/server.log"; then
    log "$store: server log has errors:"
    show_log "$dir/server.log"
  fi
  if [[ $store == postgres ]]; then
    psql "$DATABASE_URL/postgres" -qc "DROP DATABASE IF EXISTS $BENCH_DB" >/dev/null || true
  fi
}

cd "$ROOT"
ensure_tools
if [[ $SKIP_BUILD != 1 ]]; then
  log "cargo build --release -p oxidp -p oxidp-loadgen"
  cargo build --release -p oxidp -p oxidp-loadgen
fi
[[ -x $OXIDP_BIN && -x $LOADGEN ]] || die "oxidp or oxidp-loadgen not built (run without SKIP_BUILD)"

for store in $STORES; do
  bench_store "$store"
done

printf '\n## DPoP results %s\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
printf 'Machine: %s cores (%s); wrk -t%s -c%s -d%ss on loopback; oxidp %s.\n\n' "$(nproc)" \
  "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" "$THREADS" "$CONNECTIONS" "$DURATION" \
  "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
printf '| store | requests | requests/s | p50 ms | p99 ms | server CPU %% | server CPU µs/request | other CPU %% | note |\n'
printf '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n'
for store in $STORES; do
  for kind in plain dpop; do
    name=$kind-$store
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$store" "$kind" "${RPS[$name]}" "${P50[$name]}" \
      "${P99[$name]}" "${CPU[$name]}" "${CPU_US[$name]}" "${OTHER[$name]}" "${BAD[$name]:-}"
  done
done
printf '\n'
for store in $STORES; do
  awk -v a="${RPS[dpop-$store]}" -v b="${RPS[plain-$store]}" -v t="$TARGET" -v s="$store" \
    -v v="${VERIFY_US[$store]}" -v r="${REPLAY_SHARE[$store]}" 'BEGIN {
    p = 100 * a / b
    printf "- %s: DPoP / plain = %.0f%% (target >= %d%%): %s; proof validation %s µs per request, of which the replay store %s%%\n",
      s, p, t, (p >= t ? "PASS" : "MISS"), v, r
  }'
done
if ((FAILED)); then
  printf '\nrun.sh: some runs had errors; the figures above are INVALID\n' >&2
  exit 1
fi
