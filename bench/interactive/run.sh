#!/usr/bin/env bash
# Interactive-login and refresh-token benchmark for oxidp. A benchmark, not a
# test: it prints figures and PASS/MISS against the targets, and exits 0 when
# the measurements ran (non-zero only when something failed to run).
#
#   bash bench/interactive/run.sh                 # 20 s per phase
#   DURATION=15 bash bench/interactive/run.sh
#
# Knobs (environment): DURATION (s, default 20), LOGIN_CONCURRENCY (default 4),
# REFRESH_CONNECTIONS (default 32), PERF (auto|0|1: sample the machine with
# `perf record -a -e cpu-clock` and report the server's samples; default
# auto = when perf works), SKIP_BUILD=1,
# KEEP_LOGS=1 (keep the temp dir with the server log, metrics and profiles).
#
# Everything listens on 127.0.0.1 only; every process started here is stopped
# by the EXIT trap.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CONFIG=$ROOT/bench/interactive/oxidp-bench.toml
DURATION=${DURATION:-20}
LOGIN_CONCURRENCY=${LOGIN_CONCURRENCY:-4}
REFRESH_CONNECTIONS=${REFRESH_CONNECTIONS:-32}
PERF=${PERF:-auto}
OXIDP=$ROOT/target/release/oxidp
LOADGEN=$ROOT/target/release/oxidp-loadgen

# Targets (from the performance requirement).
ARGON2_SHARE_TARGET=90 # % of a login's server CPU time spent in argon2
REFRESH_TARGET=3000    # refresh-token grants per second at 32 connections

# Client and users as configured in oxidp-bench.toml.
CLIENT=web
SECRET=web-secret
REDIRECT=https://bench.test/cb
USERS=bench
USER_COUNT=32
PASSWORD=bench-password

WORK=$(mktemp -d "${TMPDIR:-/tmp}/oxidp-interactive-bench.XXXXXX")
PIDS=()

cleanup() {
  local status=$? pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ ${KEEP_LOGS:-0} == 1 ]]; then
    echo "logs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { echo "== $*" >&2; }

# Runs a command in the background and waits for it, so that INT/TERM reach
# the traps at once instead of after the command finishes.
run() {
  "$@" &
  local pid=$!
  PIDS+=("$pid")
  wait "$pid"
}

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    return
  fi
  local port
  while :; do
    port=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

clk_tck=$(getconf CLK_TCK)

# CPU seconds (user + system) used so far by process $1 and all its threads.
cpu_seconds() {
  # Drop "pid (comm) " first: comm may hold spaces. utime and stime are then
  # fields 12 and 13 (14 and 15 of the whole line).
  sed -e 's/^.*) //' "/proc/$1/stat" | awk -v hz="$clk_tck" '{ printf "%.3f", ($12 + $13) / hz }'
}

# CPU seconds per thread of process $1, as "tid<TAB>name<TAB>seconds" lines.
thread_cpu() {
  local t
  for t in /proc/"$1"/task/*; do
    [[ -r $t/stat ]] || continue
    sed -e 's/^\([0-9]*\) (\(.*\)) /\1\t\2\t/' "$t/stat" 2>/dev/null || true
  done | awk -F'\t' -v hz="$clk_tck" '{ split($3, f, " "); printf "%s\t%s\t%.3f\n", $1, $2, (f[12] + f[13]) / hz }'
}

# CPU used between two thread_cpu snapshots, per thread name (threads that
# started in between count from zero), largest first, as % of $3 seconds; the
# rest of $3 is threads that exited in between.
thread_cpu_delta() {
  awk -F'\t' -v total="$3" 'NR == FNR { before[$1] = $3; next }
      { d = $3 - before[$1]; if (d > 0) { by[$2] += d; seen += d } }
      END {
        for (n in by) if (by[n] > 0.005) printf "%.3f\t    %-28s %8.2f s  %5.1f%%\n", by[n], n, by[n], 100 * by[n] / total
        rest = total - seen
        if (rest > 0.005) printf "%.3f\t    %-28s %8.2f s  %5.1f%%\n", rest, "(threads that exited)", rest, 100 * rest / total
      }' "$1" "$2" | sort -rn | cut -f2-
}

# Busy % of the whole machine (all cores, 100 = all busy) since snapshot $1
# of `machine_ticks` ("busy total").
machine_ticks() {
  awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6 }' /proc/stat
}
machine_busy_since() {
  local b0 t0 b1 t1
  read -r b0 t0 <<<"$1"
  read -r b1 t1 <<<"$(machine_ticks)"
  awk -v b="$((b1 - b0))" -v t="$((t1 - t0))" 'BEGIN { if (t > 0) printf "%.0f", 100 * b / t; else print "n/a" }'
}

# Busy % of the machine over the next 3 s (to show whether it was quiet).
machine_busy_now() {
  local m
  m=$(machine_ticks)
  sleep 3
  machine_busy_since "$m"
}

now() { date +%s.%N; }

# Sum over all label sets of a Prometheus sample name; empty when absent.
metric_sum() {
  awk -v name="$2" '$1 == name || index($1, name "{") == 1 { s += $NF; found = 1 }
      END { if (found) printf "%.6f", s }' "$1"
}

perf_works() {
  case $PERF in
    0) return 1 ;;
    1) return 0 ;;
  esac
  command -v perf >/dev/null 2>&1 && perf record -q -e cpu-clock -o "$WORK/perf-probe.data" -- true >/dev/null 2>&1
}

# Samples every CPU (`perf record -a`, so that threads the server starts
# during the run are seen too) into file $1; the reports keep the server's
# samples only. Does nothing when perf is not used.
perf_pid=
perf_start() {
  [[ $use_perf == 1 ]] || return 0
  perf record -q -a -e cpu-clock -F 499 -o "$1" >/dev/null 2>&1 &
  perf_pid=$!
  PIDS+=("$perf_pid")
}

perf_stop() {
  [[ -n $perf_pid ]] || return 0
  kill -INT "$perf_pid" 2>/dev/null || true
  wait "$perf_pid" 2>/dev/null || true
  perf_pid=
}

# The server's samples in perf file $1, as "percent<TAB>key" lines, sorted by
# perf's --sort keys $2 (percentages of the server's samples only).
perf_table() {
  perf report -i "$1" --pid "$server" --percentage relative --stdio --no-children --sort "$2" 2>/dev/null |
    awk '/^ *[0-9.]+%/ { pct = $1; sub(/%/, "", pct); $1 = ""; print pct "\t" substr($0, 2) }'
}

wait_healthy() {
  local url=$1 pid=$2 i
  for i in $(seq 1 300); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "the server exited; its log:" >&2
      cat "$WORK/server.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "the server did not answer $url in 30 s; its log:" >&2
  cat "$WORK/server.log" >&2
  return 1
}

json_field() { # file field
  python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(v)' "$1" "$2" 2>/dev/null ||
    sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" "$1"
}

cd "$ROOT"
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  log "cargo build --release -p oxidp -p oxidp-loadgen"
  run cargo build --release -p oxidp -p oxidp-loadgen
fi

use_perf=0
if perf_works; then
  use_perf=1
fi

port=$(free_port)
base=http://127.0.0.1:$port
log "starting oxidp on $base (SQLite in $WORK)"
RUST_LOG=warn \
  OXIDP_SERVER__LISTEN=127.0.0.1:$port \
  OXIDP_STORE__URL="sqlite://$WORK/data/oxidp.db" \
  "$OXIDP" serve --config "$CONFIG" >"$WORK/server.log" 2>&1 &
server=$!
PIDS+=("$server")
wait_healthy "$base/healthz" "$server"

common=(--base "$base" --client "$CLIENT" --secret "$SECRET")
login_args=("${common[@]}" --users "$USERS" --count "$USER_COUNT" --password "$PASSWORD" --redirect "$REDIRECT")

# A few sign-ins first: checks the flow and warms up the server.
log "warm-up: 4 sign-ins"
run "$LOADGEN" login "${login_args[@]}" --concurrency 2 --logins 4 \
  --emit-refresh-tokens "$WORK/warmup-tokens.txt" >/dev/null

# (a) Sign-in round trips.
log "(a) sign-ins: concurrency $LOGIN_CONCURRENCY for ${DURATION}s"
busy_before_login=$(machine_busy_now)
m0=$(machine_ticks)
curl -fsS "$base/metrics" >"$WORK/metrics-before.txt"
thread_cpu "$server" >"$WORK/threads-login-before.txt"
cpu0=$(cpu_seconds "$server")
t0=$(now)
perf_start "$WORK/login.perf.data"
run "$LOADGEN" login "${login_args[@]}" --concurrency "$LOGIN_CONCURRENCY" --duration "$DURATION" \
  >"$WORK/login.json"
cpu1=$(cpu_seconds "$server")
t1=$(now)
busy_login=$(machine_busy_since "$m0")
perf_stop
thread_cpu "$server" >"$WORK/threads-login-after.txt"
curl -fsS "$base/metrics" >"$WORK/metrics-after.txt"

hash_sum0=$(metric_sum "$WORK/metrics-before.txt" oxidp_password_hash_duration_seconds_sum)
hash_sum1=$(metric_sum "$WORK/metrics-after.txt" oxidp_password_hash_duration_seconds_sum)
hash_n0=$(metric_sum "$WORK/metrics-before.txt" oxidp_password_hash_duration_seconds_count)
hash_n1=$(metric_sum "$WORK/metrics-after.txt" oxidp_password_hash_duration_seconds_count)

login_cpu=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.3f", b - a }')
login_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
round_trips=$(json_field "$WORK/login.json" round_trips)
login_errors=$(json_field "$WORK/login.json" errors)
logins_per_s=$(json_field "$WORK/login.json" per_second)
login_p50=$(json_field "$WORK/login.json" p50_ms)
login_p99=$(json_field "$WORK/login.json" p99_ms)
cpu_per_login_ms=$(awk -v c="$login_cpu" -v n="$round_trips" 'BEGIN { if (n > 0) printf "%.1f", 1000 * c / n; else print "n/a" }')

if [[ -n $hash_sum1 ]]; then
  hash_seconds=$(awk -v a="${hash_sum0:-0}" -v b="$hash_sum1" 'BEGIN { printf "%.3f", b - a }')
  hashes=$(awk -v a="${hash_n0:-0}" -v b="$hash_n1" 'BEGIN { printf "%d", b - a }')
  argon2_share=$(awk -v h="$hash_seconds" -v c="$login_cpu" 'BEGIN { if (c > 0) printf "%.1f", 100 * h / c; else print "n/a" }')
else
  hash_seconds=n/a hashes=n/a argon2_share=n/a
fi

perf_sym_share=n/a perf_thread_share=n/a
if [[ $use_perf == 1 && -s $WORK/login.perf.data ]]; then
  perf_table "$WORK/login.perf.data" pid,sym >"$WORK/login.profile.txt"
  # Self time in argon2's functions (the BLAKE2-based compression and the
  # memory walk).
  perf_sym_share=$(awk -F'\t' 'tolower($2) ~ /argon2|blake2/ { s += $1 } END { printf "%.1f", s }' "$WORK/login.profile.txt")
  # All the time of the threads that run argon2 (tokio's blocking pool: hashes
  # run there and nothing else does), so argon2's own allocation, zeroing and
  # page faults of its 19 MiB count too. A thread counts when argon2's
  # functions are at least half of its samples.
  perf_thread_share=$(awk -F'\t' '{ split($2, w, " "); t = w[1]; all[t] += $1; if (tolower($2) ~ /argon2|blake2/) a[t] += $1 }
      END { for (t in all) if (a[t] >= all[t] / 2) s += all[t]; printf "%.1f", s }' "$WORK/login.profile.txt")
fi

# (b) Refresh-token grants.
log "(b) refresh tokens: $REFRESH_CONNECTIONS sign-ins for the tokens"
run "$LOADGEN" login "${login_args[@]}" --concurrency "$LOGIN_CONCURRENCY" \
  --logins "$REFRESH_CONNECTIONS" --emit-refresh-tokens "$WORK/tokens.txt" >/dev/null
log "(b) refresh grants: $REFRESH_CONNECTIONS connections for ${DURATION}s"
busy_before_refresh=$(machine_busy_now)
m2=$(machine_ticks)
thread_cpu "$server" >"$WORK/threads-refresh-before.txt"
cpu2=$(cpu_seconds "$server")
t2=$(now)
perf_start "$WORK/refresh.perf.data"
run "$LOADGEN" refresh "${common[@]}" --connections "$REFRESH_CONNECTIONS" --duration "$DURATION" \
  --tokens "$WORK/tokens.txt" >"$WORK/refresh.json"
cpu3=$(cpu_seconds "$server")
t3=$(now)
busy_refresh=$(machine_busy_since "$m2")
perf_stop
thread_cpu "$server" >"$WORK/threads-refresh-after.txt"

refresh_cpu=$(awk -v a="$cpu2" -v b="$cpu3" 'BEGIN { printf "%.3f", b - a }')
refresh_wall=$(awk -v a="$t2" -v b="$t3" 'BEGIN { printf "%.3f", b - a }')
refresh_cpu_pct=$(awk -v c="$refresh_cpu" -v w="$refresh_wall" 'BEGIN { printf "%.0f", 100 * c / w }')
refreshes=$(json_field "$WORK/refresh.json" requests)
refresh_errors=$(json_field "$WORK/refresh.json" errors)
refresh_per_s=$(json_field "$WORK/refresh.json" per_second)
refresh_p50=$(json_field "$WORK/refresh.json" p50_ms)
refresh_p99=$(json_field "$WORK/refresh.json" p99_ms)
cpu_per_refresh_us=$(awk -v c="$refresh_cpu" -v n="$refreshes" 'BEGIN { if (n > 0) printf "%.0f", 1e6 * c / n; else print "n/a" }')

verdict() { # value target -> PASS/MISS
  awk -v v="$1" -v t="$2" 'BEGIN { if (v == "n/a" || v == "") print "n/a"; else if (v + 0 >= t + 0) print "PASS"; else print "MISS" }'
}

echo
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "machine busy in the 3 s before each phase: ${busy_before_login}% before (a), ${busy_before_refresh}% before (b) (of all cores; a quiet machine is near 0)"
echo "argon2: m=19456 KiB, t=2, p=1 (bench/interactive/oxidp-bench.toml)"
echo
echo "(a) sign-in round trips (authorize -> login page -> login post -> authorize -> token), concurrency $LOGIN_CONCURRENCY, ${DURATION}s"
echo "    round trips:      $round_trips ($login_errors errors)"
echo "    logins/s:         $logins_per_s   (p50 ${login_p50} ms, p99 ${login_p99} ms)"
echo "    server CPU:       ${login_cpu} s in ${login_wall} s; ${cpu_per_login_ms} ms per login"
echo "    machine busy:     ${busy_login}% of all cores (server, load generator and anything else)"
echo "    argon2 (metric):  ${hash_seconds} s over ${hashes} hashes = ${argon2_share}% of server CPU"
echo "                      (oxidp_password_hash_duration_seconds_sum: wall-clock time of each hash)"
echo "    argon2 (perf):    ${perf_thread_share}% of the server's CPU samples in the threads that run argon2"
echo "                      (${perf_sym_share}% in argon2's own functions, self time)"
echo "    server threads:"
thread_cpu_delta "$WORK/threads-login-before.txt" "$WORK/threads-login-after.txt" "$login_cpu"
echo
echo "(b) refresh-token grants (one-time, rotating), $REFRESH_CONNECTIONS connections, ${DURATION}s"
echo "    requests:         $refreshes ($refresh_errors errors)"
echo "    refreshes/s:      $refresh_per_s   (p50 ${refresh_p50} ms, p99 ${refresh_p99} ms)"
echo "    server CPU:       ${refresh_cpu_pct}% of one core (${refresh_cpu} s in ${refresh_wall} s); ${cpu_per_refresh_us} us per refresh"
echo "    machine busy:     ${busy_refresh}% of all cores (server, load generator and anything else)"
echo "    server threads:"
thread_cpu_delta "$WORK/threads-refresh-before.txt" "$WORK/threads-refresh-after.txt" "$refresh_cpu"
if [[ $use_perf == 1 && -s $WORK/refresh.perf.data ]]; then
  perf_table "$WORK/refresh.perf.data" dso,sym >"$WORK/refresh.profile.txt"
  echo "    server CPU by binary (perf): $(awk -F'\t' '{ split($2, w, " "); d[w[1]] += $1 }
      END { for (k in d) if (d[k] >= 0.5) printf "%s %.1f%%, ", k, d[k] }' "$WORK/refresh.profile.txt" | sed 's/, $//')"
  echo "    hottest server symbols (perf, self time):"
  head -15 "$WORK/refresh.profile.txt" | awk -F'\t' '{ printf "    %6.2f%%  %s\n", $1, substr($2, 1, 110) }'
fi

# The verdict on the argon2 share uses perf's per-thread figure when there is
# one: the histogram sums each hash's wall-clock time, which also counts the
# time a hash waited for a core, and so overstates the share (beyond 100%)
# whenever more hashes run at once than there are cores.
if [[ $perf_thread_share != n/a ]]; then
  share_for_verdict=$perf_thread_share share_source="perf, argon2 threads"
else
  share_for_verdict=$argon2_share share_source="histogram"
fi
metric_note=$(awk -v s="$argon2_share" 'BEGIN { if (s != "n/a" && s + 0 > 100) print "(over 100%: wall-clock, not CPU)"; else print "(informational)" }')
echo
echo "summary"
printf '  %-46s %-10s %s\n' "logins/s (argon2 m=19456,t=2,p=1)" "$logins_per_s" "(no target)"
printf '  %-46s %-10s %s\n' "argon2 share of login CPU ($share_source)" "${share_for_verdict}%" "$(verdict "$share_for_verdict" "$ARGON2_SHARE_TARGET") (target >= ${ARGON2_SHARE_TARGET}%)"
printf '  %-46s %-10s %s\n' "argon2 share of login CPU (histogram)" "${argon2_share}%" "$metric_note"
printf '  %-46s %-10s %s\n' "refresh grants/s at $REFRESH_CONNECTIONS connections" "$refresh_per_s" "$(verdict "$refresh_per_s" "$REFRESH_TARGET") (target >= ${REFRESH_TARGET}/s)"
if [[ $login_errors != 0 || $refresh_errors != 0 ]]; then
  echo
  echo "!! ERRORS: $login_errors sign-in errors, $refresh_errors refresh errors (see the loadgen messages above)"
  echo "!! login: $(cat "$WORK/login.json")"
  echo "!! refresh: $(cat "$WORK/refresh.json")"
fi
