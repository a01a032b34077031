#!/usr/bin/env bash
# mTLS benchmark: client credentials over HTTPS with tls_client_auth and certificate-bound
# tokens (keep-alive) against plain-HTTP client credentials with a secret, in the same run,
# and the handshake rate (a new TLS connection with a client certificate per request).
#
#   bash bench/mtls.sh
#
# Environment knobs: DURATION=10 (seconds per run), WARMUP=2, CONNECTIONS=32,
# SERVER_THREADS=2, LOAD_THREADS=2, SKIP_BUILD=1.
# Everything is in one process on 127.0.0.1 (a throwaway PKI in a temp dir, two in-memory
# servers, the load generator); it prints figures and PASS/MISS for the 70 % target, and exits
# 1 only when a request failed (a benchmark of errors is worthless).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    cargo build --release -p oxidp-bench-mtls
fi
exec "${CARGO_TARGET_DIR:-$ROOT/target}/release/oxidp-bench-mtls"
