#!/usr/bin/env bash
# The web console (docs/console.md).
#   scripts/console.sh        builds its assets into console/dist (npm ci, Vite),
#                             which the next cargo build embeds in the binary
#   scripts/console.sh e2e    runs its end-to-end tests in Debian's headless
#                             Chromium (installed when missing), against
#                             target/debug/strongroom (build it first); they save
#                             the screenshots in docs/img/console-*.png
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [ "${1:-}" != "e2e" ]; then
  (cd console && npm ci --no-audit --no-fund && npm run build)
else
  [ -d console/node_modules ] || (cd console && npm ci --no-audit --no-fund)
  if ! command -v chromium >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  fi
  (cd console && STRONGROOM_BIN="${STRONGROOM_BIN:-$root/target/debug/strongroom}" \
    CHROMIUM_PATH="${CHROMIUM_PATH:-$(command -v chromium)}" node --test e2e/)
fi
