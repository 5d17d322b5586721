#!/usr/bin/env bash
# Encrypt throughput of a small cluster (docs/deploy.md, docs/performance.md):
# a throw-away PostgreSQL, M `strongroom-hsm` modules in one domain (a
# one-operator ceremony), F `strongroom serve` frontends on the store, and one
# `strongroom bench` per frontend (concurrency 64 split between them), all on
# this machine. Usage: scripts/bench-cluster.sh [SECONDS] [MODULES] [FRONTENDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
m=${2:-1}
f=${3:-1}
cargo build --release -p strongroom-cli -p strongroom-hsm --locked >&2
bin=$PWD/target/release/strongroom
hsm=$PWD/target/release/strongroom-hsm
pg_env=$(scripts/postgres.sh start)
eval "$pg_env"
store=$STRONGROOM_TEST_POSTGRES_URL
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$OLDPWD/scripts/postgres.sh" stop "$STRONGROOM_PG_DIR"
  rm -rf "$dir"
}
trap cleanup EXIT
cd "$dir"
"$bin" operator keygen --name op --out op.key >/dev/null
hosts=()
for j in $(seq "$f"); do
  "$bin" admin --data-dir "front$j" host-key >/dev/null
  hosts+=(--host "front$j/host.pub")
done
addrs=()
for i in $(seq "$m"); do
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
"$bin" operator request --out create.json create-domain --module m1.att --operator op.key.pub --quorum 1 "${hosts[@]}" >/dev/null
"$bin" operator sign create.json --key op.key >/dev/null 2>&1
"$bin" operator submit create.json --hsm "${addrs[0]}" --out token.json >/dev/null
for i in $(seq 2 "$m"); do
  "$bin" operator request --out add.json add-member --domain-token token.json --module "m$i.att" >/dev/null
  "$bin" operator sign add.json --key op.key >/dev/null 2>&1
  "$bin" operator submit add.json --hsm "${addrs[0]}" --out token.json >/dev/null
done
if [ "$m" -gt 1 ]; then
  "$bin" operator request --out ingest.json ingest --domain-token token.json >/dev/null
  "$bin" operator sign ingest.json --key op.key >/dev/null 2>&1
  hs=(); for a in "${addrs[@]:1}"; do hs+=(--hsm "$a"); done
  "$bin" operator submit ingest.json "${hs[@]}" >/dev/null
fi
hs=(); for a in "${addrs[@]}"; do hs+=(--hsm "$a"); done
mods=("${hs[@]}" --domain-token token.json --store "$store")
account=$("$bin" admin --data-dir front1 "${mods[@]}" create-account)
eval "$("$bin" admin --data-dir front1 "${mods[@]}" create-access-key --account-id "$account" | sed 's/^/export /')"
endpoints=()
for j in $(seq "$f"); do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$bin" serve --data-dir "front$j" --listen "127.0.0.1:$port" "${mods[@]}" >"front$j.out" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 100); do grep -q serving "front$j.out" 2>/dev/null && break; sleep 0.1; done
  endpoints+=("http://127.0.0.1:$port")
done
export AWS_REGION=us-east-1
key=$("$bin" kms --endpoint "${endpoints[0]}" create-key --description bench)
"$bin" bench --endpoint "${endpoints[0]}" --key-id "$key" --concurrency 64 --duration 2 >/dev/null   # warm-up
per=$((64 / f))
for e in "${endpoints[@]}"; do
  "$bin" bench --endpoint "$e" --key-id "$key" --op encrypt --concurrency "$per" --duration "$secs" --json >"bench-$(echo "$e" | tr -dc 0-9).json" &
done
wait_pids=$(jobs -p | tail -n "$f"); for p in $wait_pids; do wait "$p"; done
python3 - "$m" "$f" bench-*.json <<'PY'
import json, sys
m, f, files = sys.argv[1], sys.argv[2], sys.argv[3:]
rs = [json.load(open(x)) for x in files]
print(f"| {m} | {f} | {sum(r['requests_per_sec'] for r in rs):.0f} | {sum(r['errors'] for r in rs)} | {max(r['p50_us'] for r in rs)} | {max(r['p99_us'] for r in rs)} |")
PY
