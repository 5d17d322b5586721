#!/usr/bin/env bash
# Sign and Verify throughput for ECC_NIST_P256 and RSA_2048 keys
# (docs/performance.md): a release `strongroom dev` in a temp directory and
# `strongroom bench --op sign|verify --key-spec SPEC`, 256-byte messages.
# Usage: scripts/bench-sign.sh [SECONDS_PER_RUN]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
cargo build --release -p strongroom-cli --locked >&2
bin=target/release/strongroom
dir=$(mktemp -d)
out="$dir/out.txt"
"$bin" dev --data-dir "$dir" --listen 127.0.0.1:0 >"$out" 2>/dev/null &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do grep -q AWS_SECRET_ACCESS_KEY "$out" 2>/dev/null && break; sleep 0.1; done
eval "$(grep '^export ' "$out")"
"$bin" bench --op sign --concurrency 64 --duration 2 >/dev/null   # warm-up
echo "| key spec | operation | concurrency | req/s | errors | p50 µs | p90 µs | p99 µs |"
echo "|---|---|---|---|---|---|---|---|"
for spec in ECC_NIST_P256 RSA_2048; do
  for op in sign verify; do
    for c in 1 64; do
      "$bin" bench --op "$op" --key-spec "$spec" --concurrency "$c" --duration "$secs" --payload-bytes 256 --json |
        python3 -c 'import json,sys; r=json.load(sys.stdin); print("| '"$spec"' | {op} | {concurrency} | {requests_per_sec:.0f} | {errors} | {p50_us} | {p90_us} | {p99_us} |".format(**r))'
    done
  done
done
