#!/usr/bin/env bash
# Start (or stop) a throwaway PostgreSQL 15 cluster in a temporary directory, on loopback.
# usage: scripts/pg-throwaway.sh start DIR PORT   -> prints the database URL
#        scripts/pg-throwaway.sh stop DIR
#        scripts/pg-throwaway.sh down DIR         (crash it, keep its data: a store outage)
#        scripts/pg-throwaway.sh up DIR PORT      (start it again after `down`)
set -euo pipefail
action=$1 dir=$2 port=${3:-55432}
bin=$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || dirname "$(command -v pg_ctl)")
run_as() {  # PostgreSQL refuses to run as root
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}
case $action in
  start)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; chmod o+rx "$(dirname "$dir")"; fi
    run_as "'$bin/initdb' -D '$dir/data' -U postgres -A trust --no-sync >'$dir/initdb.log' 2>&1"
    run_as "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -t 60 \
      -o \"-k '$dir' -p $port -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" start >/dev/null"
    run_as "'$bin/createdb' -h 127.0.0.1 -p $port -U postgres hgsync_test"
    echo "postgresql+psycopg://postgres@127.0.0.1:$port/hgsync_test"
    ;;
  down)
    run_as "'$bin/pg_ctl' -D '$dir/data' -m immediate stop >/dev/null 2>&1"
    ;;
  up)
    run_as "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -t 60 \
      -o \"-k '$dir' -p $port -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" start >/dev/null"
    ;;
  stop)
    run_as "'$bin/pg_ctl' -D '$dir/data' -m immediate stop >/dev/null 2>&1" || true
    rm -rf "$dir"
    ;;
esac
