#!/usr/bin/env bash
# Runs every Strongroom test: format and lint checks, Rust unit and
# integration tests (real aws-sdk-kms client), then the Python compatibility
# suite (boto3, AWS Encryption SDK, aws CLI) against the real binary.
# Installs what it needs: a Python venv in tests/compat/.venv, the web
# console's npm packages (console/node_modules), Debian's chromium and
# PostgreSQL 15 from Debian's packages when missing; a throw-away cluster on
# 127.0.0.1 (scripts/postgres.sh) serves the store's conformance suite and
# is stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "web console assets (npm ci, vite build: scripts/console.sh), embedded by the build"
scripts/console.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "strongroom-hsm is built only from the module's crates (no HTTP server, no database)"
forbidden=$(cargo tree -p strongroom-hsm -e normal --prefix none --locked \
  | sed 's/ (.*//' | sort -u \
  | grep -E '^(strongroom-(server|store|policy|cli)|axum|hyper|rusqlite|tokio-postgres|sqlx|reqwest) ' || true)
if [ -n "$forbidden" ]; then
  echo "strongroom-hsm depends on: $forbidden" >&2
  exit 1
fi

step "cargo deny: licences, bans and sources (advisories: see deny.toml)"
if ! cargo deny --version >/dev/null 2>&1; then
  cargo install --locked cargo-deny
fi
cargo deny check licenses bans sources

step "throw-away PostgreSQL cluster for the store conformance suite"
eval "$(scripts/postgres.sh start)"
trap 'scripts/postgres.sh stop "$STRONGROOM_PG_DIR"' EXIT
echo "$STRONGROOM_TEST_POSTGRES_URL"

step "cargo test (unit + integration, SQLite and PostgreSQL)"
cargo test --workspace --locked

step "fuzz smoke: every target for 2 s (scripts/fuzz.sh)"
scripts/fuzz.sh 2

step "build the strongroom and strongroom-hsm binaries for the compatibility suite"
cargo build -p strongroom-cli -p strongroom-hsm --locked

step "web console end to end: headless Chromium (Debian's, installed when missing) driven by playwright-core"
scripts/console.sh e2e

step "Python venv for real-client tests"
venv=tests/compat/.venv
stamp="$venv/.requirements.sha256"
want=$(sha256sum tests/compat/requirements.txt | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/compat/requirements.txt
  echo "$want" > "$stamp"
fi

step "compatibility tests (boto3, aws-encryption-sdk, aws CLI)"
STRONGROOM_BIN="$PWD/target/debug/strongroom" "$venv/bin/python" -m pytest -p no:cacheprovider -q tests/compat
