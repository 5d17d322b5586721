#!/usr/bin/env bash
# Encrypt throughput with AWS's default key policy versus a non-trivial one
# (five statements: IP, account, transport, date and set conditions), so the
# cost of policy evaluation shows end to end (docs/performance.md).
# Usage: scripts/bench-policy.sh [SECONDS_PER_RUN]
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
acct=$(grep -o 'account [0-9]*' "$out" | cut -d' ' -f2)
cat >"$dir/policy.json" <<JSON
{"Version":"2012-10-17","Statement":[
 {"Sid":"admins","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::$acct:root","arn:aws:iam::$acct:role/admin"]},
  "Action":["kms:Create*","kms:Describe*","kms:Put*","kms:Get*","kms:Schedule*"],"Resource":"*"},
 {"Sid":"use","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::$acct:root","arn:aws:iam::444455556666:root"]},
  "Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*",
  "Condition":{"IpAddress":{"aws:SourceIp":["127.0.0.0/8","10.0.0.0/8"]},"StringEquals":{"kms:CallerAccount":["$acct","444455556666"]}}},
 {"Sid":"via","Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*",
  "Condition":{"StringLike":{"kms:ViaService":"objects.*"},"Bool":{"aws:SecureTransport":"true"}}},
 {"Sid":"no-late","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*",
  "Condition":{"DateGreaterThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}},
 {"Sid":"keys","Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*",
  "Condition":{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["forbidden"]}}}]}
JSON
default_key=$("$bin" kms create-key --description default-policy)
policy_key=$("$bin" kms create-key --description five-statements --policy "@$dir/policy.json")
"$bin" bench --op encrypt --key-id "$default_key" --concurrency 64 --duration 2 >/dev/null   # warm-up
echo "| key policy | concurrency | req/s | errors | p50 µs | p90 µs | p99 µs |"
echo "|---|---|---|---|---|---|---|"
for c in 1 64; do
  for which in default policy; do
    key=$default_key; name="default"
    if [ "$which" = policy ]; then key=$policy_key; name="five statements with conditions"; fi
    "$bin" bench --op encrypt --key-id "$key" --concurrency "$c" --duration "$secs" --payload-bytes 256 --json |
      python3 -c 'import json,sys; r=json.load(sys.stdin); print("| '"$name"' | {concurrency} | {requests_per_sec:.0f} | {errors} | {p50_us} | {p90_us} | {p99_us} |".format(**r))'
  done
done
