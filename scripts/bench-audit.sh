#!/usr/bin/env bash
# The audit path's performance goals (docs/performance.md, "How to measure
# the audit path"), on the disk holding the data directory:
#   - one fdatasync of a small append, measured here (median µs);
#   - Encrypt 256 B (SigV4) at concurrency 1 (p50, against fdatasync +
#     150 µs) and at concurrency 64 (p99, against 5 ms), for each audit
#     durability mode;
#   - write amplification: bytes the strongroom process sent to storage
#     (write_bytes of /proc/PID/io) per request, against the bytes of an
#     audit record on disk (segment files / records, as
#     `strongroom admin audit verify` counts them); goal ≤ 2.
# Prints Markdown tables ready for docs/performance.md. There is no
# no-audit mode: the trail cannot be turned off, so the pre-audit figure
# is the one recorded in docs/performance.md.
#
# Usage: scripts/bench-audit.sh [SECONDS]            (default 10 per run)
# MODES="sync buffered" (default) lists the --audit-durability modes.
# FSYNC_ITERATIONS=2000 (default) appends for the fdatasync median.
# DEV_ARGS="..." adds flags to `strongroom dev` (e.g. "--audit-sync-gather-us 0"
# to compare batches without gathering).
# PROFILE=debug uses a debug build (only to check the script works).
# Data directories go under the target directory (the repository's disk,
# not a tmpfs), or under BENCH_DIR if set.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
read -r -a modes <<<"${MODES:-sync buffered}"
profile=${PROFILE:-release}
if [ "$profile" = release ]; then
  cargo build --release -p strongroom-cli --locked >&2
else
  cargo build -p strongroom-cli --locked >&2
fi
target=${CARGO_TARGET_DIR:-$PWD/target}
bin=$target/$profile/strongroom
base=${BENCH_DIR:-$target}
mkdir -p "$base"
dir=$(mktemp -d "$base/bench-audit.XXXXXX")
pid=
stop_dev() {
  # TERM: background jobs of a script ignore SIGINT.
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  pid=
}
trap 'stop_dev; rm -rf "$dir"' EXIT

# One fdatasync of a small append (a 200-byte record), on this filesystem.
python3 - "$dir/fsync-probe" "${FSYNC_ITERATIONS:-2000}" >"$dir/fsync.json" <<'PY'
import json, os, statistics, sys, time
path, n = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
record, samples = b"x" * 200, []
for _ in range(n):
    t = time.perf_counter_ns()
    os.write(fd, record)
    os.fdatasync(fd)
    samples.append((time.perf_counter_ns() - t) / 1000)
os.close(fd)
os.unlink(path)
samples.sort()
print(json.dumps({"median_us": statistics.median(samples), "p90_us": samples[int(0.9 * (n - 1))], "n": n}))
PY
fs=$(df -T "$dir" | awk 'NR==2 {print $1 " (" $2 ")"}')

write_bytes() { awk '/^write_bytes:/ {print $2}' "/proc/$1/io" 2>/dev/null || echo -1; }

for mode in "${modes[@]}"; do
  d=$dir/$mode
  "$bin" dev --data-dir "$d" --listen 127.0.0.1:0 --audit-durability "$mode" ${DEV_ARGS:-} >"$dir/$mode.out" 2>/dev/null &
  pid=$!
  for _ in $(seq 300); do grep -q AWS_SECRET_ACCESS_KEY "$dir/$mode.out" 2>/dev/null && break; sleep 0.1; done
  eval "$(grep '^export ' "$dir/$mode.out")"
  arn=$("$bin" kms create-key --description "bench-audit $mode")
  "$bin" bench --key-id "$arn" --op encrypt --concurrency 64 --duration 1 >/dev/null # warm-up
  for c in 1 64; do
    before=$(write_bytes "$pid")
    "$bin" bench --key-id "$arn" --op encrypt --concurrency "$c" --duration "$secs" --payload-bytes 256 --json >"$dir/$mode-$c.json"
    echo "$before $(write_bytes "$pid")" >"$dir/$mode-$c.io"
  done
  stop_dev
  "$bin" admin --data-dir "$d" audit verify >"$dir/$mode.verify"
  records=$(grep -o 'intact: [0-9]* records' "$dir/$mode.verify" | awk '{s += $2} END {print s + 0}')
  seg_bytes=$(find "$d/audit" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
  echo "$records $seg_bytes" >"$dir/$mode.records"
done

python3 - "$dir" "$fs" "${modes[@]}" <<'PY'
import json, sys
d, fs, modes = sys.argv[1], sys.argv[2], sys.argv[3:]
f = json.load(open(f"{d}/fsync.json"))
budget = f["median_us"] + 150
print(f"One fdatasync of a 200-byte append on {fs}: median **{f['median_us']:.0f} µs** "
      f"(p90 {f['p90_us']:.0f} µs, {f['n']} appends); concurrency-1 budget: {budget:.0f} µs.")
print()
print("| audit | concurrency | req/s | errors | p50 µs | p99 µs | goal |")
print("|---|---|---|---|---|---|---|")
for m in modes:
    for c in (1, 64):
        r = json.load(open(f"{d}/{m}-{c}.json"))
        if c == 1:
            goal = f"p50 ≤ fdatasync + 150 µs = {budget:.0f} µs: {'met' if r['p50_us'] <= budget else 'missed'}" \
                if m == "sync" else "p50 ≤ 1.25 × no-audit (no such mode; pre-audit p50 80 µs → 100 µs)"
        else:
            goal = f"p99 < 5 ms: {'met' if r['p99_us'] < 5000 else 'missed'}"
        print(f"| {m} | {c} | {r['requests_per_sec']:.0f} | {r['errors']} | {r['p50_us']} | {r['p99_us']} | {goal} |")
print("| none | — | — | — | — | — | no such mode: the trail cannot be turned off (pre-audit figure in docs/performance.md) |")
print()
print("| audit | concurrency | requests | written to disk (/proc/PID/io) | per request | record on disk | amplification (goal ≤ 2) |")
print("|---|---|---|---|---|---|---|")
for m in modes:
    records, seg_bytes = map(int, open(f"{d}/{m}.records").read().split())
    rec = seg_bytes / records if records else float("nan")
    for c in (1, 64):
        reqs = json.load(open(f"{d}/{m}-{c}.json"))["requests"]
        before, after = map(int, open(f"{d}/{m}-{c}.io").read().split())
        if before < 0 or after < 0:
            print(f"| {m} | {c} | {reqs} | n/a (no /proc/PID/io) | n/a | {rec:.0f} B | n/a |")
            continue
        per = (after - before) / reqs if reqs else float("nan")
        print(f"| {m} | {c} | {reqs} | {after - before} B | {per:.0f} B | {rec:.0f} B | {per / rec:.2f} |")
print()
print("Record on disk: segment bytes (headers and sealed footers included) / records, "
      "over every record of the run (warm-up and key creation too).")
PY
