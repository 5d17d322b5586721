#!/usr/bin/env bash
# Module worker pool scaling (docs/performance.md, "Modules that use every
# core"): RSA-2048 Sign (and Verify, answered in the frontend) at one
# concurrency, with the module's private-key work on 1 worker and then on 2,
# for the in-process module of `strongroom dev --workers N` and for a
# `strongroom-hsm --workers N` process behind `strongroom dev --hsm`.
# Prints a Markdown table and the 2-worker / 1-worker Sign ratio of each.
#
# Usage: scripts/bench-workers.sh [SECONDS] [CONCURRENCY] [WORKER COUNTS...]
#   defaults: 10 s, concurrency 64, workers 1 2.
# PROFILE=debug uses a debug build (only to check the script works).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conc=${2:-64}
shift $(( $# > 2 ? 2 : $# ))
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 2)
profile=${PROFILE:-release}
if [ "$profile" = release ]; then
  cargo build --release -p strongroom-cli -p strongroom-hsm --locked >&2
else
  cargo build -p strongroom-cli -p strongroom-hsm --locked >&2
fi
target=${CARGO_TARGET_DIR:-$PWD/target}
bin=$target/$profile/strongroom
hsm=$target/$profile/strongroom-hsm
dir=$(mktemp -d)
pids=()
stop_all() {
  # TERM: background jobs of a script ignore SIGINT.
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; rm -rf "$dir"' EXIT

# Waits for a `strongroom dev` started with its output in $1, then exports
# its endpoint and credentials.
dev_env() {
  for _ in $(seq 300); do grep -q AWS_SECRET_ACCESS_KEY "$1" 2>/dev/null && break; sleep 0.1; done
  eval "$(grep '^export ' "$1")"
}

# One `strongroom-hsm --workers $1` in a one-operator domain, with a
# frontend in front of it; leaves the frontend's environment exported.
module_with_workers() {
  local w=$dir/module-$1
  mkdir -p "$w"
  (
    cd "$w"
    "$hsm" --listen 127.0.0.1:0 --state-dir m --workers "$1" >m.out 2>/dev/null &
    echo $! >m.pid
    for _ in $(seq 100); do [ -s m.out ] && break; sleep 0.05; done
    addr=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' m.out)
    echo "$addr" >m.addr
    "$bin" operator keygen --name op --out op.key >/dev/null
    "$bin" admin --data-dir front host-key >/dev/null
    "$bin" operator attest --hsm "$addr" --out m.att >/dev/null
    "$bin" operator request --out use.json enter-use-mode --module m.att >/dev/null
    "$bin" operator sign use.json --key op.key >/dev/null 2>&1
    "$bin" operator submit use.json --hsm "$addr" >/dev/null
    "$bin" operator request --out create.json create-domain --module m.att --operator op.key.pub --quorum 1 --host front/host.pub >/dev/null
    "$bin" operator sign create.json --key op.key >/dev/null 2>&1
    "$bin" operator submit create.json --hsm "$addr" --out token.json >/dev/null
  )
  pids+=("$(cat "$w/m.pid")")
  (cd "$w" && exec "$bin" dev --data-dir front --listen 127.0.0.1:0 --hsm "$(cat m.addr)" --domain-token token.json >front.out 2>/dev/null) &
  pids+=($!)
  dev_env "$w/front.out"
}

in_process_with_workers() {
  local w=$dir/dev-$1
  "$bin" dev --data-dir "$w" --listen 127.0.0.1:0 --workers "$1" >"$dir/dev-$1.out" 2>/dev/null &
  pids+=($!)
  dev_env "$dir/dev-$1.out"
}

row() { # module-kind workers op
  "$bin" bench --op "$3" --key-spec RSA_2048 --concurrency "$conc" --duration "$secs" --payload-bytes 256 --json |
    python3 -c '
import json, sys
r = json.load(sys.stdin)
print("| {kind} | {workers} | {op} | {concurrency} | {requests_per_sec:.0f} | {errors} | {p50_us} | {p99_us} |".format(kind=sys.argv[1], workers=sys.argv[2], **r))
print(r["requests_per_sec"], file=open(sys.argv[3], "w"))' "$1" "$2" "$dir/$1-$2-$3.rate"
}

echo "| module | workers | operation | concurrency | req/s | errors | p50 µs | p99 µs |"
echo "|---|---|---|---|---|---|---|---|"
for kind in in-process process; do
  for n in "${counts[@]}"; do
    if [ "$kind" = in-process ]; then in_process_with_workers "$n"; else module_with_workers "$n"; fi
    "$bin" bench --op sign --key-spec RSA_2048 --concurrency "$conc" --duration 1 >/dev/null # warm-up
    row "$kind" "$n" sign
    row "$kind" "$n" verify
    stop_all
  done
done
first=${counts[0]}
for kind in in-process process; do
  for n in "${counts[@]:1}"; do
    python3 -c 'import sys; a=float(open(sys.argv[1]).read()); b=float(open(sys.argv[2]).read()); print(f"{sys.argv[3]}: Sign with {sys.argv[4]} workers / {sys.argv[5]} = {b/a:.2f}")' \
      "$dir/$kind-$first-sign.rate" "$dir/$kind-$n-sign.rate" "$kind" "$n" "$first"
  done
done
