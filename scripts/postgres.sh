#!/usr/bin/env bash
# Starts a throw-away PostgreSQL cluster on 127.0.0.1 in a temporary
# directory (installing PostgreSQL 15 from Debian's packages if missing) and
# prints `export` lines for it; `scripts/postgres.sh stop DIR` stops it.
#   eval "$(scripts/postgres.sh start)"   # sets STRONGROOM_TEST_POSTGRES_URL, STRONGROOM_PG_DIR
#   scripts/postgres.sh stop "$STRONGROOM_PG_DIR"
set -euo pipefail
bin=/usr/lib/postgresql/15/bin
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "${1:-start}" in
  start)
    if [ ! -x "$bin/initdb" ]; then
      echo "installing PostgreSQL 15 from Debian's packages" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2 && apt-get install -y -qq postgresql-15 >&2
    fi
    dir=$(mktemp -d /tmp/strongroom-pg.XXXXXX)
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres --locale=C -E UTF8 >/dev/null
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-h 127.0.0.1 -p $port -k $dir -c fsync=on -c max_connections=200" start >/dev/null
    echo "export STRONGROOM_PG_DIR=$dir"
    echo "export STRONGROOM_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    dir=${2:?usage: postgres.sh stop DIR}
    as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
esac
