#!/usr/bin/env bash
# Encrypt throughput with external security modules versus the in-process
# one (docs/performance.md). Builds release binaries, starts N
# `strongroom-hsm` processes, runs a one-operator ceremony with the real
# `strongroom operator` commands, starts `strongroom dev --hsm ...`, and runs
# `strongroom bench`. Usage: scripts/bench-modules.sh [SECONDS] [MODULES]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
n=${2:-1}
cargo build --release -p strongroom-cli -p strongroom-hsm --locked >&2
bin=$PWD/target/release/strongroom
hsm=$PWD/target/release/strongroom-hsm
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
cd "$dir"
"$bin" operator keygen --name op --out op.key >/dev/null
"$bin" admin --data-dir front host-key >/dev/null
addrs=()
for i in $(seq "$n"); do
  "$hsm" --listen 127.0.0.1:0 --state-dir "m$i" >"m$i.out" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 100); do [ -s "m$i.out" ] && break; sleep 0.05; done
  addr=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "m$i.out")
  addrs+=("$addr")
  "$bin" operator attest --hsm "$addr" --out "m$i.att" >/dev/null
  "$bin" operator request --out use.json enter-use-mode --module "m$i.att" >/dev/null
  "$bin" operator sign use.json --key op.key >/dev/null 2>&1
  "$bin" operator submit use.json --hsm "$addr" >/dev/null
done
"$bin" operator request --out create.json create-domain --module m1.att --operator op.key.pub --quorum 1 --host front/host.pub >/dev/null
"$bin" operator sign create.json --key op.key >/dev/null 2>&1
"$bin" operator submit create.json --hsm "${addrs[0]}" --out token.json >/dev/null
for i in $(seq 2 "$n"); do
  "$bin" operator request --out add.json add-member --domain-token token.json --module "m$i.att" >/dev/null
  "$bin" operator sign add.json --key op.key >/dev/null 2>&1
  "$bin" operator submit add.json --hsm "${addrs[0]}" --out token.json >/dev/null
done
if [ "$n" -gt 1 ]; then
  "$bin" operator request --out ingest.json ingest --domain-token token.json >/dev/null
  "$bin" operator sign ingest.json --key op.key >/dev/null 2>&1
  hs=(); for a in "${addrs[@]:1}"; do hs+=(--hsm "$a"); done
  "$bin" operator submit ingest.json "${hs[@]}" >/dev/null
fi
hs=(); for a in "${addrs[@]}"; do hs+=(--hsm "$a"); done
"$bin" dev --data-dir front --listen 127.0.0.1:0 "${hs[@]}" --domain-token token.json >front.out 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do grep -q AWS_SECRET_ACCESS_KEY front.out 2>/dev/null && break; sleep 0.1; done
eval "$(grep '^export ' front.out)"
"$bin" bench --op encrypt --concurrency 64 --duration 3 >/dev/null   # warm-up
echo "| modules | operation | concurrency | req/s | errors | p50 µs | p90 µs | p99 µs |"
echo "|---|---|---|---|---|---|---|---|"
for op in encrypt decrypt; do
  for c in 1 64; do
    "$bin" bench --op "$op" --concurrency "$c" --duration "$secs" --payload-bytes 256 --json |
      python3 -c 'import json,sys; r=json.load(sys.stdin); print("| '"$n"' external | {op} | {concurrency} | {requests_per_sec:.0f} | {errors} | {p50_us} | {p90_us} | {p99_us} |".format(**r))'
  done
done
