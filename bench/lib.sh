# Helpers shared by the benchmark scripts (sourced, not run): process bookkeeping with an EXIT
# trap that stops everything started, CPU accounting from /proc, waiting for an idle machine and
# for a server, and `load`, the warm-up + measured wrk run.
#
# The sourcing script sets BENCH_DIR, ROOT, DURATION, WARMUP, CONNECTIONS, THREADS, KEEP_LOGS,
# WAIT_IDLE and IDLE_MAX, and defines `after_load NAME URL` (a final request that must still
# succeed after the load). `load` runs ${LOAD_SCRIPT:-bench/token.lua}; the fields named in
# EXTRA_ZERO_FIELDS must also be 0 in its BENCH line for the run to count.

log() { printf '==> %s\n' "$*" >&2; }

PIDS=()
WORK=$(mktemp -d -t oxidp-bench.XXXXXX)
FAILED=0

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ $KEEP_LOGS == 1 ]]; then
    log "logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Run a command in the background and wait for it, so that INT/TERM reach
# the traps at once instead of after the foreground command finishes.
run_bg() { # outfile cmd...
  local outfile=$1 pid rc=0
  shift
  "$@" >"$outfile" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait "$pid" || rc=$?
  forget_pid "$pid"
  return "$rc"
}

forget_pid() { # pid
  local p kept=()
  for p in "${PIDS[@]}"; do
    [[ $p == "$1" ]] || kept+=("$p")
  done
  PIDS=("${kept[@]+"${kept[@]}"}")
}

die() {
  printf '%s: error: %s\n' "${0##*/}" "$*" >&2
  exit 1
}

# Print the tail of a log file to stderr (for failures).
show_log() {
  printf -- '--- %s (last 40 lines) ---\n' "$1" >&2
  tail -n 40 "$1" >&2 || true
  printf -- '---\n' >&2
}


free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Busy CPU time (user+system, seconds) of a process, from /proc.
cpu_seconds() {
  local tck
  tck=$(getconf CLK_TCK)
  awk -v tck="$tck" '{ sub(/^.*\) /, ""); print ($12 + $13) / tck }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# Busy CPU time of the whole machine (seconds, all cores), from /proc/stat.
machine_busy_seconds() {
  local tck
  tck=$(getconf CLK_TCK)
  awk -v tck="$tck" '/^cpu / { print ($2 + $3 + $4 + $7 + $8 + $9) / tck; exit }' /proc/stat
}

# CPU time (user+system seconds) of this shell's reaped children, via the
# `times` builtin (run in this shell, not a subshell, or it reads zero).
children_seconds() { # outfile
  times >"$1"
  awk 'NR == 2 {
    t = 0
    for (i = 1; i <= 2; i++) { split($i, a, "m"); sub(/s$/, "", a[2]); t += a[1] * 60 + a[2] }
    print t
  }' "$1"
}

# With WAIT_IDLE=N, wait up to N seconds for the machine to be idle (under
# IDLE_MAX % of one core busy over 2 s) before a measurement, so that other
# work (a cargo build next door) does not eat into the figures.
wait_idle() { # what
  local waited=0 b0 b1 busy
  while :; do
    b0=$(machine_busy_seconds)
    sleep 2
    b1=$(machine_busy_seconds)
    busy=$(awk -v a="$b0" -v b="$b1" 'BEGIN { printf "%.0f", 100 * (b - a) / 2 }')
    if ((busy <= IDLE_MAX)); then
      return 0
    fi
    if ((waited >= WAIT_IDLE)); then
      ((WAIT_IDLE == 0)) || log "$1: machine still busy (${busy}% of a core) after ${waited}s; measuring anyway"
      return 0
    fi
    log "$1: machine busy (${busy}% of a core); waiting"
    sleep 8
    waited=$((waited + 10))
  done
}

wait_http() { # url pid logfile
  local url=$1 pid=$2 logfile=$3
  for _ in $(seq 600); do
    if ! kill -0 "$pid" 2>/dev/null; then
      show_log "$logfile"
      die "server (pid $pid) exited before $url answered"
    fi
    if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  show_log "$logfile"
  die "timed out waiting for $url"
}

stop_pid() { # pid; SIGTERM, then SIGKILL after 10 s
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid ignored SIGTERM for 10 s; killing"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  local rc=0
  wait "$pid" 2>/dev/null || rc=$?
  forget_pid "$pid"
  if ((rc != 0)); then
    log "pid $pid exited with status $rc after SIGTERM"
  fi
}

# One request with curl; checks 200, a JWT access token, its JOSE alg, aud

declare -A RPS P50 P99 CPU WRKCPU OTHER REQS BAD

# Warm up, then measure. Records RPS/P50/P99/CPU[name]. Sets FAILED=1 when
# any non-200 / missing token / socket error shows up.
load() { # name url server_pid
  local name=$1 url=$2 pid=$3 out line cpu0 cpu1 t0 t1 v m0 m1 w0 w1
  local script=${LOAD_SCRIPT:-$BENCH_DIR/token.lua}
  wait_idle "$name"
  out=$WORK/$name-warmup.txt
  if ((WARMUP > 0)); then
    log "$name: warm-up ${WARMUP}s"
    BENCH_PHASE=warmup run_bg "$out" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -s "$script" "$url" || true
    line=$(grep '^BENCH ' "$out" || true)
    if [[ -z $line || $line != *" non200=0 no_token=0 "* ]]; then
      cat "$out" >&2
      log "$name: warm-up had errors (see above)"
    fi
  fi

  out=$WORK/$name-wrk.txt
  log "$name: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency -s ${script#"$ROOT"/} $url"
  children_seconds "$WORK/times.txt" >"$WORK/times.val"
  w0=$(cat "$WORK/times.val")
  m0=$(machine_busy_seconds)
  cpu0=$(cpu_seconds "$pid")
  t0=$(date +%s.%N)
  BENCH_PHASE=measure run_bg "$out" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$script" "$url" || {
    cat "$out" >&2
    die "$name: wrk failed"
  }
  t1=$(date +%s.%N)
  cpu1=$(cpu_seconds "$pid")
  m1=$(machine_busy_seconds)
  children_seconds "$WORK/times.txt" >"$WORK/times.val"
  w1=$(cat "$WORK/times.val")
  cat "$out" >&2
  line=$(grep '^BENCH ' "$out") || die "$name: no BENCH line in wrk output"

  field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
  RPS[$name]=$(field rps)
  P50[$name]=$(awk -v us="$(field p50_us)" 'BEGIN { printf "%.2f", us / 1000 }')
  P99[$name]=$(awk -v us="$(field p99_us)" 'BEGIN { printf "%.2f", us / 1000 }')
  REQS[$name]=$(field requests)
  CPU[$name]=$(awk -v a="$cpu0" -v b="$cpu1" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", 100 * (b - a) / (t1 - t0) }')
  WRKCPU[$name]=$(awk -v a="$w0" -v b="$w1" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", 100 * (b - a) / (t1 - t0) }')
  OTHER[$name]=$(awk -v m="$(awk -v a="$m0" -v b="$m1" 'BEGIN { print b - a }')" \
    -v s="$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { print b - a }')" \
    -v w="$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')" \
    -v t0="$t0" -v t1="$t1" 'BEGIN { o = 100 * (m - s - w) / (t1 - t0); if (o < 0) o = 0; printf "%.0f", o }')
  if ((OTHER[$name] > IDLE_MAX)); then
    log "$name: other processes used ${OTHER[$name]}% of a core during the measurement; the figures are disturbed"
  fi

  for v in non200 no_token socket_errors ${EXTRA_ZERO_FIELDS:-}; do
    if [[ $(field "$v") != 0 ]]; then
      printf '%s: %s: %s=%s (statuses: %s) -- this run is INVALID\n' "${0##*/}" "$name" "$v" "$(field "$v")" "$(field statuses)" >&2
      FAILED=1
      BAD[$name]="INVALID: $v=$(field "$v") statuses=$(field statuses)"
    fi
  done
  if [[ ${REQS[$name]} == 0 ]]; then
    printf '%s: %s: no requests completed -- this run is INVALID\n' "${0##*/}" "$name" >&2
    FAILED=1
    BAD[$name]="INVALID: no requests"
  fi
  # A final single request after the load: the server must still be healthy.
  after_load "$name" "$url" 2>/dev/null || {
    printf '%s: %s: token request after the load failed\n' "${0##*/}" "$name" >&2
    FAILED=1
    BAD[$name]="INVALID: token request after the load failed"
  }
}

