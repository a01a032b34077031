#!/usr/bin/env bash
# Server-side session benchmark: COUNT sessions in SQLite and in PostgreSQL; the
# authenticated-request path (cookie -> record -> decrypt) timed in-process, then the real
# server's memory while it answers authenticated requests; then session management on the same
# database: query pages (page 1 and a deep page), revocation of users with 100 sessions x 3
# back-channel clients, and the real server's back-channel outbox delivery rate to a local
# receiver. See bench/sessions/README.md.
#
#   bash bench/sessions/run.sh
#   STEPS="query revoke outbox" bash bench/sessions/run.sh     # session management only
#   STEPS="cleanup" bash bench/sessions/run.sh                  # expired-session cleanup only
#
# Environment knobs (defaults in brackets):
#   COUNT [1000000]      sessions to create
#   USERS [100000]       users the sessions belong to
#   SAMPLES [10000]      timed authenticate calls per round (one per sampled session)
#   ROUNDS [3]           sequential rounds, each on its own sampled sessions (pooled in the summary)
#   WARMUP [1000]        untimed calls first, on other sampled sessions
#   CONCURRENCY [32]     tasks of the throughput run
#   REQUESTS [2000]      HTTP requests to the server per pass (one sequential, one 32-wide)
#   BACKENDS ["sqlite postgres"]
#   PG_ADMIN_URL [postgres://postgres@127.0.0.1:5432/postgres]   where to CREATE/DROP DATABASE
#   PG_DATABASE [oxidp_bench]   the database created for the run and dropped at the end
#   STEPS ["measure serve query revoke outbox cleanup"]   what runs after populate, on each
#                        backend (cleanup last: it expires and removes every session)
#   QUERY_SAMPLES [1000] timed query_sessions calls per case, at most ...
#   QUERY_MAX_SECONDS [20]  ... or until this many seconds per case (at least 50 calls)
#   QUERY_PAGE [10000]   the deep page
#   REVOKE_USERS [30]    users removed and timed (each 100 sessions x 3 clients; 3 more untimed)
#   OUTBOX_MESSAGES [10000]  logout messages the server delivers, timed
#   CLEANUP_BATCH [100]  remove_expired_sessions_batch_size of the server in the cleanup step
#   CLEANUP_CONCURRENCY [8]  tasks sending token requests while the cleanup runs
#   CLEANUP_TOKEN_RATE [500]  token requests per second they send, together
#   SQLITE_DB []         an already populated SQLite file to use instead of populating one
#   PG_REUSE [0]         1: use the existing database PG_DATABASE as it is (no create, no
#                        populate, no drop)
#   SKIP_BUILD [0]       1: use the binaries already in $CARGO_TARGET_DIR (or target/)
#   KEEP [0]             1: keep the temp dir (SQLite file, keys, logs) and the PG database
#
# With SQLITE_DB or PG_REUSE the keys file of `populate` is not there, so the steps that need it
# (measure, serve) are skipped for that backend.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

COUNT=${COUNT:-1000000}
USERS=${USERS:-100000}
SAMPLES=${SAMPLES:-10000}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-1000}
CONCURRENCY=${CONCURRENCY:-32}
REQUESTS=${REQUESTS:-2000}
BACKENDS=${BACKENDS:-sqlite postgres}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PG_DATABASE=${PG_DATABASE:-oxidp_bench}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP=${KEEP:-0}
STEPS=${STEPS:-measure serve query revoke outbox cleanup}
QUERY_SAMPLES=${QUERY_SAMPLES:-1000}
QUERY_MAX_SECONDS=${QUERY_MAX_SECONDS:-20}
QUERY_PAGE=${QUERY_PAGE:-10000}
REVOKE_USERS=${REVOKE_USERS:-30}
OUTBOX_MESSAGES=${OUTBOX_MESSAGES:-10000}
CLEANUP_BATCH=${CLEANUP_BATCH:-100}
CLEANUP_CONCURRENCY=${CLEANUP_CONCURRENCY:-8}
CLEANUP_TOKEN_RATE=${CLEANUP_TOKEN_RATE:-500}
SQLITE_DB=${SQLITE_DB:-}
PG_REUSE=${PG_REUSE:-0}
P99_LIMIT_US=1000
RSS_LIMIT_MB=100
QUERY_P99_LIMIT_US=5000
REVOKE_P99_LIMIT_MS=100
OUTBOX_RATE_MIN=1000
CLEANUP_LIMIT_S=60
CLEANUP_TOKEN_P99_LIMIT_MS=50

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BENCH=$TARGET/release/oxidp-bench-sessions
OXIDP=$TARGET/release/oxidp

if [[ $SKIP_BUILD != 1 ]]; then
  cargo build --release -p oxidp -p oxidp-bench-sessions
fi
command -v curl >/dev/null || { echo "curl is required" >&2; exit 1; }

WORK=$(mktemp -d /tmp/oxidp-bench-sessions.XXXXXX)
SERVER_PID=
PG_CREATED=0

pg_admin() {
  PGOPTIONS="-c client_min_messages=warning" psql "$PG_ADMIN_URL" -v ON_ERROR_STOP=1 -q -X -c "$1"
}

cleanup() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ $PG_CREATED == 1 && $KEEP != 1 && $PG_REUSE != 1 ]]; then
    pg_admin "DROP DATABASE IF EXISTS $PG_DATABASE WITH (FORCE)" || true
  fi
  if [[ $KEEP != 1 ]]; then
    rm -rf "$WORK"
  else
    echo "kept $WORK"
    if [[ $PG_CREATED == 1 && $PG_REUSE != 1 ]]; then echo "kept database $PG_DATABASE"; fi
  fi
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + RANDOM % 40000))
}

# Field NAME=value of the last "RESULT <kind>" line of a log.
result() { # log kind field
  grep "^RESULT $2 " "$1" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$3=//p"
}

# Field NAME=value of the "RESULT query" line of one case.
query_result() { # log case field
  grep "^RESULT query .* case=$2 " "$1" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$3=//p"
}

# A database URL without its user info.
redact() { sed 's#//[^@/]*@#//#' <<< "$1"; }

has_step() { [[ " $STEPS " == *" $1 "* ]]; }

# PASS when $1 < $2 (integers), MISS otherwise (or when $1 is empty).
below() { if [[ -n $1 ]] && (( $1 < $2 )); then echo PASS; else echo MISS; fi; }

# VmRSS / VmHWM of a process, in KiB.
status_kib() { # pid field
  awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# Percentile (nearest rank) of a file of numbers, one a line.
percentile() { # file p
  sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END { r = int((p / 100) * NR + 0.999999); if (r < 1) r = 1; print v[r] }'
}

# A curl config sending one authorize request per key (prompt=none, the session cookie).
curl_config() { # keys-file port
  local url="http://127.0.0.1:$2/connect/authorize?response_type=code&client_id=bench&redirect_uri=https%3A%2F%2Fbench.test%2Fcb&scope=openid&state=bench&prompt=none"
  local first=1
  while read -r key; do
    if [[ $first != 1 ]]; then echo next; fi
    first=0
    printf 'url = "%s"\ncookie = "oxidp.session=%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code} %%{time_total} %%{redirect_url}\\n"\n' "$url" "$key"
  done < "$1"
}

cat > "$WORK/oxidp.toml" <<'EOF'
# The server of bench/sessions/run.sh: server-side sessions on; one client whose consent is
# required, so that `prompt=none` with a valid session answers `consent_required` (and without
# one `login_required`) and no request writes anything.
[server_side_sessions]
enabled = true

[log]
level = "warn"

[[clients]]
client_id = "bench"
secrets = [{ value = "bench-secret" }]
allowed_grant_types = ["authorization_code"]
allowed_scopes = ["openid"]
redirect_uris = ["https://bench.test/cb"]
require_pkce = false
require_consent = true
EOF

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr)"
echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ)  COUNT=$COUNT USERS=$USERS SAMPLES=$SAMPLES ROUNDS=$ROUNDS CONCURRENCY=$CONCURRENCY REQUESTS=$REQUESTS"

SUMMARY=$WORK/summary.txt
printf '%-8s %8s %8s %6s %6s %6s %6s %5s %8s %9s %7s %7s %7s %10s %9s\n' \
  backend sessions load_s p50_us p99_us max_us cpu_us load1 'p99<1ms' "tput@$CONCURRENCY" proc_mb srv_rss srv_hwm http_auth 'hwm<100MB' > "$SUMMARY"
QUERY_SUMMARY=$WORK/summary-query.txt
printf '%-8s %-22s %9s %6s %7s %8s %8s %8s %9s %9s %9s %8s\n' \
  backend case matching page samples p50_us p99_us max_us first_us select_p50 count_p50 'p99<5ms' > "$QUERY_SUMMARY"
REVOKE_SUMMARY=$WORK/summary-revoke.txt
printf '%-8s %5s %8s %8s %8s %8s %10s %10s %5s %10s\n' \
  backend users sessions messages p50_ms p99_ms commit_p50 commit_p99 load1 'p99<100ms' > "$REVOKE_SUMMARY"
OUTBOX_SUMMARY=$WORK/summary-outbox.txt
printf '%-8s %8s %8s %9s %11s %11s %11s %10s %5s %11s\n' \
  backend messages first_ms drain_s 'steady/s' 'end2end/s' 'recorded/s' srv_cpu_us load1 '>=1000/s' > "$OUTBOX_SUMMARY"
CLEANUP_SUMMARY=$WORK/summary-cleanup.txt
printf '%-8s %9s %5s %9s %9s %8s %9s %9s %9s %5s %7s %10s\n' \
  backend sessions batch cleanup_s messages tokens p50_ms p99_ms max_ms load1 '<60s' 'p99<50ms' > "$CLEANUP_SUMMARY"

for backend in $BACKENDS; do
  POPULATE=1
  case $backend in
    sqlite)
      if [[ -n $SQLITE_DB ]]; then
        [[ -f $SQLITE_DB ]] || { echo "SQLITE_DB=$SQLITE_DB does not exist" >&2; exit 1; }
        URL="sqlite://$(cd "$(dirname "$SQLITE_DB")" && pwd)/$(basename "$SQLITE_DB")"
        POPULATE=0
      else
        mkdir -p "$WORK/sqlite"
        URL="sqlite://$WORK/sqlite/sessions.db"
      fi
      ;;
    postgres)
      command -v psql >/dev/null || { echo "psql is required for the PostgreSQL run" >&2; exit 1; }
      if [[ $PG_REUSE == 1 ]]; then
        POPULATE=0
      else
        pg_admin "DROP DATABASE IF EXISTS $PG_DATABASE WITH (FORCE)"
        pg_admin "CREATE DATABASE $PG_DATABASE"
        PG_CREATED=1
      fi
      URL="${PG_ADMIN_URL%/*}/$PG_DATABASE"
      ;;
    *) echo "unknown backend $backend" >&2; exit 1 ;;
  esac
  KEYS=$WORK/$backend-keys.txt
  LOG=$WORK/$backend.log

  if [[ $POPULATE == 1 ]]; then
    echo
    echo "== $backend: populate $COUNT sessions"
    "$BENCH" populate --url "$URL" --count "$COUNT" --users "$USERS" --keys "$KEYS" \
      --sample $((WARMUP + ROUNDS * SAMPLES + 2 * REQUESTS)) | tee -a "$LOG"
  else
    echo
    echo "== $backend: reusing $(redact "$URL") as it is (no populate; measure and serve need its keys file and are skipped)"
  fi

  if has_step measure && [[ $POPULATE == 1 ]]; then
    echo "== $backend: measure, sequential (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    "$BENCH" measure --url "$URL" --keys "$KEYS" --warmup "$WARMUP" --samples "$SAMPLES" \
      --rounds "$ROUNDS" --label "$backend" | tee -a "$LOG"
    echo "== $backend: measure, $CONCURRENCY tasks (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    "$BENCH" measure --url "$URL" --keys "$KEYS" --warmup "$WARMUP" --samples "$SAMPLES" \
      --concurrency "$CONCURRENCY" --label "$backend" | tee -a "$LOG.concurrent"
  fi

  if has_step serve && [[ $POPULATE == 1 ]]; then
    echo "== $backend: the server, $REQUESTS sequential + $REQUESTS concurrent authorize requests with session cookies"
    PORT=$(free_port)
    OXIDP_STORE__URL=$URL OXIDP_SERVER__LISTEN=127.0.0.1:$PORT RUST_LOG=warn \
      "$OXIDP" serve --config "$WORK/oxidp.toml" > "$WORK/$backend-server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
      curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
      kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/$backend-server.log" >&2; exit 1; }
      sleep 0.2
    done
    idle_rss=$(status_kib "$SERVER_PID" VmRSS)
    # Keys not used by `measure`: the tail of the sample.
    tail -n $((2 * REQUESTS)) "$KEYS" > "$WORK/$backend-http.keys"
    sed -n "1,${REQUESTS}p" "$WORK/$backend-http.keys" > "$WORK/$backend-http-seq.keys"
    sed -n "$((REQUESTS + 1)),\$p" "$WORK/$backend-http.keys" > "$WORK/$backend-http-par.keys"
    curl_config "$WORK/$backend-http-seq.keys" "$PORT" > "$WORK/$backend-seq.curl"
    curl_config "$WORK/$backend-http-par.keys" "$PORT" > "$WORK/$backend-par.curl"
    curl -s -K "$WORK/$backend-seq.curl" > "$WORK/$backend-http-seq.out" 2>> "$WORK/curl.err"
    curl -s --parallel --parallel-max "$CONCURRENCY" -K "$WORK/$backend-par.curl" > "$WORK/$backend-http-par.out" 2>> "$WORK/curl.err"
    rss=$(status_kib "$SERVER_PID" VmRSS)
    hwm=$(status_kib "$SERVER_PID" VmHWM)
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=

    cat "$WORK/$backend-http-seq.out" "$WORK/$backend-http-par.out" > "$WORK/$backend-http.out"
    total=$(wc -l < "$WORK/$backend-http.out")
    signed_in=$(grep -c '^30[23] .*error=consent_required' "$WORK/$backend-http.out" || true)
    signed_out=$(grep -c 'error=login_required' "$WORK/$backend-http.out" || true)
    awk '{ printf "%d\n", $2 * 1000000 }' "$WORK/$backend-http-seq.out" > "$WORK/$backend-http-seq.us"
    echo "  server: $signed_in of $total requests authenticated (consent_required), $signed_out signed out (login_required)"
    echo "  server HTTP round trip, sequential: p50 $(percentile "$WORK/$backend-http-seq.us" 50) us, p99 $(percentile "$WORK/$backend-http-seq.us" 99) us (curl time_total, loopback)"
    echo "  server memory: VmRSS $((idle_rss / 1024)) MB idle after start, VmRSS $((rss / 1024)) MB after the requests, VmHWM $((hwm / 1024)) MB"
    grep -iE 'error|warn' "$WORK/$backend-server.log" | head -n 5 || true
  fi

  if has_step measure && has_step serve && [[ $POPULATE == 1 ]]; then
    p50=$(result "$LOG" measure p50_us)
    p99=$(result "$LOG" measure p99_us)
    max=$(result "$LOG" measure max_us)
    cpu=$(result "$LOG" measure cpu_us_per_call)
    load1=$(result "$LOG" measure load1)
    proc_hwm=$(result "$LOG" measure hwm_kb)
    tput=$(result "$LOG.concurrent" measure throughput)
    populate_s=$(result "$LOG" populate seconds)
    sessions=$(result "$LOG" populate sessions)
    p99_verdict=$(below "$p99" "$P99_LIMIT_US")
    rss_verdict=$(below "$((hwm / 1024))" "$RSS_LIMIT_MB")
    printf '%-8s %8s %8s %6s %6s %6s %6s %5s %8s %9s %7s %7s %7s %10s %9s\n' \
      "$backend" "$sessions" "$populate_s" "$p50" "$p99" "$max" "$cpu" "$load1" "$p99_verdict" "$tput" \
      "$((proc_hwm / 1024))" "$((rss / 1024))" "$((hwm / 1024))" "$signed_in/$total" "$rss_verdict" >> "$SUMMARY"
  fi

  # Session management, on the same database.
  if has_step query; then
    echo "== $backend: query_sessions, page 1 and page $QUERY_PAGE (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    "$BENCH" query --url "$URL" --samples "$QUERY_SAMPLES" --max-seconds "$QUERY_MAX_SECONDS" \
      --page "$QUERY_PAGE" --label "$backend" | tee "$LOG.query"
    grep '^RESULT query ' "$LOG.query" | while read -r line; do
      field() { tr ' ' '\n' <<< "$line" | sed -n "s/^$1=//p"; }
      p99=$(field p99_us)
      printf '%-8s %-22s %9s %6s %7s %8s %8s %8s %9s %9s %9s %8s\n' "$backend" "$(field case)" \
        "$(field matching)" "$(field page)" "$(field samples)" "$(field p50_us)" "$p99" \
        "$(field max_us)" "$(field first_us)" "$(field select_p50_us)" "$(field count_p50_us)" "$(below "$p99" "$QUERY_P99_LIMIT_US")" >> "$QUERY_SUMMARY"
    done
  fi
  if has_step revoke; then
    echo "== $backend: remove_sessions, $REVOKE_USERS users x 100 sessions x 3 clients (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    "$BENCH" revoke --url "$URL" --users "$REVOKE_USERS" --label "$backend" | tee "$LOG.revoke"
    p99=$(result "$LOG.revoke" revoke p99_ms)
    printf '%-8s %5s %8s %8s %8s %8s %10s %10s %5s %10s\n' "$backend" \
      "$(result "$LOG.revoke" revoke users)" "$(result "$LOG.revoke" revoke sessions_per_user)" \
      "$(result "$LOG.revoke" revoke messages_per_user)" "$(result "$LOG.revoke" revoke p50_ms)" "$p99" \
      "$(result "$LOG.revoke" revoke commit_p50_ms)" "$(result "$LOG.revoke" revoke commit_p99_ms)" \
      "$(result "$LOG.revoke" revoke load1)" "$(below "${p99%.*}" "$REVOKE_P99_LIMIT_MS")" >> "$REVOKE_SUMMARY"
  fi
  if has_step outbox; then
    echo "== $backend: the server's outbox delivery, $OUTBOX_MESSAGES logout tokens to a local receiver (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    "$BENCH" outbox --url "$URL" --oxidp "$OXIDP" --messages "$OUTBOX_MESSAGES" \
      --server-log "$WORK/$backend-outbox-server.log" --label "$backend" | tee "$LOG.outbox"
    e2e=$(result "$LOG.outbox" outbox end_to_end_per_s)
    verdict=MISS; [[ -n $e2e ]] && (( e2e >= OUTBOX_RATE_MIN )) && verdict=PASS
    printf '%-8s %8s %8s %9s %11s %11s %11s %10s %5s %11s\n' "$backend" \
      "$(result "$LOG.outbox" outbox messages)" "$(result "$LOG.outbox" outbox first_ms)" \
      "$(result "$LOG.outbox" outbox drain_s)" "$(result "$LOG.outbox" outbox steady_per_s)" "$e2e" \
      "$(result "$LOG.outbox" outbox recorded_per_s)" "$(result "$LOG.outbox" outbox server_cpu_us_per_msg)" \
      "$(result "$LOG.outbox" outbox load1)" "$verdict" >> "$OUTBOX_SUMMARY"
  fi

  if has_step cleanup; then
    echo "== $backend: the server's cleanup job removing every session, made expired, with $CLEANUP_TOKEN_RATE token requests/s (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    "$BENCH" cleanup --url "$URL" --oxidp "$OXIDP" --batch-size "$CLEANUP_BATCH" \
      --concurrency "$CLEANUP_CONCURRENCY" --token-rate "$CLEANUP_TOKEN_RATE" --server-log "$WORK/$backend-cleanup-server.log" \
      --label "$backend" | tee "$LOG.cleanup"
    secs=$(result "$LOG.cleanup" cleanup cleanup_s)
    p99=$(result "$LOG.cleanup" cleanup token_p99_ms)
    printf '%-8s %9s %5s %9s %9s %8s %9s %9s %9s %5s %7s %10s\n' "$backend" \
      "$(result "$LOG.cleanup" cleanup sessions)" "$(result "$LOG.cleanup" cleanup batch)" "$secs" \
      "$(result "$LOG.cleanup" cleanup messages)" "$(result "$LOG.cleanup" cleanup tokens)" \
      "$(result "$LOG.cleanup" cleanup token_p50_ms)" "$p99" "$(result "$LOG.cleanup" cleanup token_max_ms)" \
      "$(result "$LOG.cleanup" cleanup load1)" "$(below "${secs%.*}" "$CLEANUP_LIMIT_S")" \
      "$(below "${p99%.*}" "$CLEANUP_TOKEN_P99_LIMIT_MS")" >> "$CLEANUP_SUMMARY"
  fi

  if [[ $backend == postgres && $KEEP != 1 && $PG_REUSE != 1 ]]; then
    pg_admin "DROP DATABASE IF EXISTS $PG_DATABASE WITH (FORCE)"
    PG_CREATED=0
  fi
done

echo
echo "== summary"
if has_step measure && has_step serve && [[ $(wc -l < "$SUMMARY") -gt 1 ]]; then
  echo "   load_s: populate time; p50/p99/max: in-process authenticate, sequential, $ROUNDS x $SAMPLES calls, us;"
  echo "   cpu_us: CPU of the measuring process per call (the PostgreSQL server's own CPU is not in it);"
  echo "   load1: load average at the end of the sequential run; tput: calls/s from $CONCURRENCY tasks;"
  echo "   proc_mb: VmHWM of the measuring process; srv_rss/srv_hwm: the oxidp server (MB) after"
  echo "   $((2 * REQUESTS)) authorize requests with session cookies; http_auth: those that found the session."
  echo "   Limits: p99 < ${P99_LIMIT_US} us; server VmHWM < ${RSS_LIMIT_MB} MB."
  cat "$SUMMARY"
fi
if has_step query; then
  echo
  echo "   query_sessions, page of 25 (us): name-*: display-name prefix matching that share of the"
  echo "   sessions; subject/sid: exact; first_us: the first call of the case (a large filter counts"
  echo "   its total then, once per reuse period); select_p50: the page SELECT alone; count_p50: a"
  echo "   count over every matching row alone."
  echo "   Limit: p99 < ${QUERY_P99_LIMIT_US} us."
  cat "$QUERY_SUMMARY"
fi
if has_step revoke; then
  echo
  echo "   remove_sessions of one user (100 sessions x 3 clients, 300 outbox messages), ms;"
  echo "   commit: the one transaction inside it. Limit: p99 < ${REVOKE_P99_LIMIT_MS} ms."
  cat "$REVOKE_SUMMARY"
fi
if has_step outbox; then
  echo
  echo "   outbox: the real server delivering to a local receiver; first_ms: first delivery after the"
  echo "   enqueue commit (1 s idle poll); steady: first -> last delivery; end2end: commit -> last"
  echo "   delivery (the verdict); recorded: commit -> every attempt recorded. Limit: >= ${OUTBOX_RATE_MIN}/s."
  cat "$OUTBOX_SUMMARY"
fi
if has_step cleanup; then
  echo
  echo "   cleanup: every session made expired, then the real server's job (first run at start-up,"
  echo "   batch $CLEANUP_BATCH) until none is left, with a logout message per client of each session"
  echo "   enqueued (and delivered to a local receiver meanwhile); tokens: client_credentials requests"
  echo "   answered in that window ($CLEANUP_TOKEN_RATE/s from $CLEANUP_CONCURRENCY tasks)."
  echo "   Limits: cleanup < ${CLEANUP_LIMIT_S} s; token p99 < ${CLEANUP_TOKEN_P99_LIMIT_MS} ms."
  cat "$CLEANUP_SUMMARY"
fi
