#!/usr/bin/env bash
# The ceiling (docs/performance.md, "How to measure the audit path"):
# Strongroom's 256-byte Encrypt throughput against a bare HTTP JSON echo
# (benches/echo: axum, parses the same request JSON, answers a body of the
# same size, no SigV4 check, no cryptography, no audit), both driven by the
# same client, `strongroom bench` (SigV4-signed requests; it needs no
# answer but HTTP 200 and is given the key, so it can drive the echo),
# in the same run. Prints a Markdown table and the ratio (goal ≥ 0.5,
# stretch ≥ 0.65).
#
# Usage: scripts/bench-ceiling.sh [SECONDS] [CONCURRENCY]   (defaults: 10, 64)
# AUDIT_DURABILITY=sync|group-ms=N|buffered (default sync) for Strongroom.
# PROFILE=debug uses a debug build (only to check the script works).
# Data directories go under the target directory (the repository's disk,
# not a tmpfs), or under BENCH_DIR if set.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conc=${2:-64}
durability=${AUDIT_DURABILITY:-sync}
profile=${PROFILE:-release}
if [ "$profile" = release ]; then
  cargo build --release -p strongroom-cli -p strongroom-bench-echo --locked >&2
else
  cargo build -p strongroom-cli -p strongroom-bench-echo --locked >&2
fi
target=${CARGO_TARGET_DIR:-$PWD/target}
bin=$target/$profile/strongroom
echo_bin=$target/$profile/strongroom-bench-echo
base=${BENCH_DIR:-$target}
mkdir -p "$base"
dir=$(mktemp -d "$base/bench-ceiling.XXXXXX")
pids=()
stop_all() {
  # TERM: background jobs of a script ignore SIGINT.
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; rm -rf "$dir"' EXIT

"$bin" dev --data-dir "$dir/data" --listen 127.0.0.1:0 --audit-durability "$durability" >"$dir/dev.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 300); do grep -q AWS_SECRET_ACCESS_KEY "$dir/dev.out" 2>/dev/null && break; sleep 0.1; done
eval "$(grep '^export ' "$dir/dev.out")"

# One key for both; one real Encrypt gives the ciphertext overhead the
# echo must add so that its answer has the size of Strongroom's.
arn=$("$bin" kms create-key --description "bench-ceiling")
head -c 256 /dev/urandom >"$dir/plain"
"$bin" kms encrypt --key-id "$arn" --in "$dir/plain" --out "$dir/blob"
overhead=$(( $(stat -c %s "$dir/blob") - 256 ))

"$echo_bin" --listen 127.0.0.1:0 --ciphertext-overhead "$overhead" >"$dir/echo.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do grep -q '^listening on ' "$dir/echo.out" 2>/dev/null && break; sleep 0.05; done
echo_url="http://$(sed -n 's/^listening on //p' "$dir/echo.out")"

# The echo's answer, next to the size Strongroom's answer has (same fields,
# same order: CiphertextBlob, KeyId, EncryptionAlgorithm).
python3 - "$echo_url" "$arn" "$dir/blob" >&2 <<'PY'
import base64, json, os, sys, urllib.request
url, arn, blob = sys.argv[1], sys.argv[2], open(sys.argv[3], "rb").read()
req = {"KeyId": arn, "Plaintext": base64.b64encode(os.urandom(256)).decode()}
echo = urllib.request.urlopen(urllib.request.Request(
    url, data=json.dumps(req).encode(),
    headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.Encrypt"})).read()
real = json.dumps({"CiphertextBlob": base64.b64encode(blob).decode(), "KeyId": arn,
                   "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, separators=(",", ":"))
print(f"Encrypt answer body: Strongroom {len(real)} B, echo {len(echo)} B")
if len(real) != len(echo):
    sys.exit("the echo's answer does not have Strongroom's size")
PY

run() { # label endpoint
  "$bin" bench --endpoint "$2" --key-id "$arn" --op encrypt --concurrency "$conc" --duration 1 >/dev/null # warm-up
  "$bin" bench --endpoint "$2" --key-id "$arn" --op encrypt --concurrency "$conc" --duration "$secs" --payload-bytes 256 --json >"$dir/$1.json"
}
run strongroom "$AWS_ENDPOINT_URL_KMS"
run echo "$echo_url"

python3 - "$dir/strongroom.json" "$dir/echo.json" "$durability" <<'PY'
import json, sys
s, e = (json.load(open(p)) for p in sys.argv[1:3])
mode = sys.argv[3]
print("| server | operation | concurrency | req/s | errors | p50 µs | p99 µs |")
print("|---|---|---|---|---|---|---|")
for name, r in ((f"strongroom dev (audit {mode}, SigV4 verified)", s), ("bare axum JSON echo (benches/echo)", e)):
    print(f"| {name} | encrypt 256 B | {r['concurrency']} | {r['requests_per_sec']:.0f} | {r['errors']} | {r['p50_us']} | {r['p99_us']} |")
ratio = s["requests_per_sec"] / e["requests_per_sec"] if e["requests_per_sec"] else float("nan")
print()
print(f"ratio strongroom / echo: **{ratio:.2f}** (goal ≥ 0.5, stretch ≥ 0.65)")
for name, r in (("strongroom", s), ("echo", e)):
    if r["errors"]:
        print(f"{name}: {r['errors']} errors, first: {r.get('first_error')}", file=sys.stderr)
PY
