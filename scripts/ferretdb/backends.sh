#!/usr/bin/env bash
# Two throwaway FerretDB servers, one per backend, to compare them with
# scripts/ferretdb/compare-backends.ts without touching (or sharing the load of) the harness's
# service on 27017:
#
#   scripts/ferretdb/backends.sh up   [dir] [base-port=27018] [pg-port=55432]
#       FerretDB on PostgreSQL at base-port, FerretDB on SQLite at base-port+1
#   scripts/ferretdb/backends.sh down [dir]      stops all three (by pid) and removes dir
#
# Uses Debian's PostgreSQL 15 (installed if missing) and the FerretDB binary the harness built.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${ORDERSTREAM_CACHE:-$HOME/.cache/orderstream}
FERRETDB_BIN=$CACHE/ferretdb-v1.24.0/ferretdb
PGBIN=/usr/lib/postgresql/15/bin
cmd=${1:-}; DIR=${2:-/tmp/orderstream-ferretdb-backends}; PORT=${3:-27018}; PG_PORT=${4:-55432}

# initdb and postgres refuse to run as root: the cluster then belongs to the postgres user.
as_pg() { if [[ $(id -u) == 0 ]]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }

ferretdb() {
  local name=$1 port=$2; shift 2
  mkdir -p "$DIR/$name"
  setsid "$FERRETDB_BIN" "$@" --state-dir="$DIR/$name" --listen-addr="127.0.0.1:$port" \
    --debug-addr=127.0.0.1:0 --telemetry=disable --log-level=ERROR >>"$DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/$name.pid"
  (cd "$ROOT" && MONGO_URL="mongodb://127.0.0.1:$port" node --import tsx scripts/wait-ready.ts mongo 60 "$(cat "$DIR/$name.pid")")
}

case $cmd in
  up)
    [[ -x $FERRETDB_BIN ]] || { echo "no $FERRETDB_BIN: run scripts/services up mongo first" >&2; exit 1; }
    [[ -x $PGBIN/initdb ]] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    mkdir -p "$DIR/sqlite-data"
    if [[ $(id -u) == 0 ]]; then chown postgres: "$DIR"; fi
    [[ -f $DIR/pg/PG_VERSION ]] || as_pg "$PGBIN/initdb -D $DIR/pg -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >$DIR/initdb.log"
    as_pg "$PGBIN/pg_ctl -D $DIR/pg -l $DIR/pg.log -w -o '-c listen_addresses=127.0.0.1 -p $PG_PORT -k $DIR' start >/dev/null"
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -Atc "select 1 from pg_database where datname='ferretdb'" | grep -q 1 ||
      psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc 'create database ferretdb'
    ferretdb ferretdb-pg "$PORT" --handler=postgresql --postgresql-url="postgres://postgres@127.0.0.1:$PG_PORT/ferretdb"
    ferretdb ferretdb-sqlite $((PORT + 1)) --handler=sqlite --sqlite-url="file:$DIR/sqlite-data/"
    echo "pg=mongodb://127.0.0.1:$PORT sqlite=mongodb://127.0.0.1:$((PORT + 1))"
    ;;
  down)
    for name in ferretdb-pg ferretdb-sqlite; do
      if [[ -f $DIR/$name.pid ]]; then kill "$(cat "$DIR/$name.pid")" 2>/dev/null || true; fi
    done
    if [[ -f $DIR/pg/postmaster.pid ]]; then as_pg "$PGBIN/pg_ctl -D $DIR/pg -m fast -w stop >/dev/null" || true; fi
    # Only a directory this script made is removed.
    if [[ -d $DIR/sqlite-data ]]; then rm -rf "$DIR"; fi
    ;;
  *) echo "usage: $0 up|down [dir] [base-port] [pg-port]" >&2; exit 2;;
esac
