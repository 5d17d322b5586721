#!/usr/bin/env bash
# The XKS proxy API figures of docs/performance.md: starts a release
# `strongroom dev` in a temp data directory, creates an external key store
# (`strongroom admin xks create-keystore`), warms up, then runs `strongroom
# bench` for XKS Encrypt and Decrypt (4 KiB plaintext, 1 KiB AAD) at
# concurrency 64, printing a Markdown table.
# Usage: [SERVER_THREADS=N] [CLIENT_THREADS=N] scripts/bench-xks.sh [SECONDS_PER_RUN]
# SERVER_THREADS / CLIENT_THREADS set the frontend's and the load
# generator's Tokio worker threads (TOKIO_WORKER_THREADS; default: one per
# core each). On a 2-core machine, 1 and 1 give each its own core, as a
# proxy host whose client (AWS KMS) is elsewhere has.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
cargo build --release -p strongroom-cli --locked >&2
bin=target/release/strongroom
dir=$(mktemp -d)
out="$dir/out.txt"
env ${SERVER_THREADS:+TOKIO_WORKER_THREADS=$SERVER_THREADS} "$bin" dev --data-dir "$dir" --listen 127.0.0.1:0 >"$out" 2>/dev/null &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do grep -q AWS_SECRET_ACCESS_KEY "$out" 2>/dev/null && break; sleep 0.1; done
eval "$(grep '^export ' "$out")"
account=$("$bin" admin --data-dir "$dir" list-accounts | awk 'NR == 1 {print $1}')
while IFS= read -r line; do export "${line?}"; done < <(
  "$bin" admin --data-dir "$dir" xks create-keystore --account-id "$account" --uri-prefix /bench)
env ${CLIENT_THREADS:+TOKIO_WORKER_THREADS=$CLIENT_THREADS} "$bin" bench --op xks-encrypt --concurrency 64 --duration 3 --payload-bytes 4096 >/dev/null   # warm-up
echo "| operation | concurrency | req/s | errors | p50 µs | p90 µs | p99 µs | max µs |"
echo "|---|---|---|---|---|---|---|---|"
for op in xks-encrypt xks-decrypt; do
  for c in 1 64; do
    env ${CLIENT_THREADS:+TOKIO_WORKER_THREADS=$CLIENT_THREADS} "$bin" bench --op "$op" --concurrency "$c" --duration "$secs" --payload-bytes 4096 --aad-bytes 1024 --json |
      python3 -c 'import json,sys; print("| {op} | {concurrency} | {requests_per_sec:.0f} | {errors} | {p50_us} | {p90_us} | {p99_us} | {max_us} |".format(**json.load(sys.stdin)))'
  done
done
