#!/usr/bin/env bash
# Reproduces docs/performance.md: starts a release `strongroom dev` in a temp
# data directory, warms it up, then runs `strongroom bench` for Encrypt
# (256 B), Decrypt and GenerateDataKey at concurrency 1 and 64, printing a
# Markdown table. Usage: scripts/bench.sh [SECONDS_PER_RUN]
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
"$bin" bench --op encrypt --concurrency 64 --duration 3 >/dev/null   # warm-up
echo "| operation | concurrency | req/s | errors | p50 µs | p90 µs | p99 µs | max µs |"
echo "|---|---|---|---|---|---|---|---|"
for op in encrypt decrypt generate-data-key; do
  for c in 1 64; do
    "$bin" bench --op "$op" --concurrency "$c" --duration "$secs" --payload-bytes 256 --json |
      python3 -c 'import json,sys; print("| {op} | {concurrency} | {requests_per_sec:.0f} | {errors} | {p50_us} | {p90_us} | {p99_us} | {max_us} |".format(**json.load(sys.stdin)))'
  done
done
