#!/usr/bin/env bash
# Builds every fuzz target in fuzz/ (cargo-fuzz) and runs each for
# SECONDS (default 60), printing one line per target: executions, seconds,
# result. Exits non-zero if any target finds a crash; the crashing input is
# then in fuzz/artifacts/<target>/ and the log's tail is printed.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (default: every target)
# Installs cargo-fuzz when missing. Uses the nightly toolchain when rustup
# has one, else the default toolchain: without a sanitizer, cargo-fuzz
# passes no nightly-only flag (a machine may have only stable).
# Builds into a persistent target dir outside the clone,
# $STRONGROOM_FUZZ_TARGET (default ~/.cache/strongroom/fuzz-target), so a
# fresh clone on the same machine (CI) rebuilds only what changed.
# Each run starts from the committed seeds (fuzz/corpus/<target>, read
# only) plus a scratch corpus in that dir's corpus/<target> that grows
# across runs on this machine and is never committed; logs go to its
# logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

cargo=(cargo)
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  cargo=(cargo +nightly)
fi
if ! "${cargo[@]}" fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi

target_dir="${STRONGROOM_FUZZ_TARGET:-$HOME/.cache/strongroom/fuzz-target}"
mkdir -p "$target_dir"
export CARGO_TARGET_DIR="$target_dir"
# No sanitizer: the code under test is safe Rust (panics, overflow checks
# and debug assertions are what we look for, and are on); 16 codegen units
# keep the build short on a small machine.
flags=(--sanitizer none --codegen-units 16 --target-dir "$target_dir")

build_start=$(date +%s)
"${cargo[@]}" fuzz build "${flags[@]}"
echo "fuzz build: $(($(date +%s) - build_start)) s"

mkdir -p "$target_dir/logs"
failed=()
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <("${cargo[@]}" fuzz list)
fi
for t in "${targets[@]}"; do
  scratch="$target_dir/corpus/$t"
  log="$target_dir/logs/$t.log"
  mkdir -p "$scratch" "fuzz/corpus/$t"
  start=$(date +%s)
  if "${cargo[@]}" fuzz run "${flags[@]}" "$t" "$scratch" "fuzz/corpus/$t" -- \
      -max_total_time="$seconds" -timeout=30 -print_final_stats=1 >"$log" 2>&1; then
    result=ok
  else
    result=CRASH
    failed+=("$t")
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  printf '%-26s runs=%-10s seconds=%-5s result=%s\n' \
    "$t" "${runs:-?}" "$(($(date +%s) - start))" "$result"
  if [ "$result" = CRASH ]; then
    tail -n 40 "$log" >&2
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing found crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
