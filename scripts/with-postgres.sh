#!/usr/bin/env bash
# Runs a command with a PostgreSQL server for the tests, and tells the tests
# where it is through TEST_DATABASE_URL:
#   1. TEST_DATABASE_URL or DATABASE_URL if set;
#   2. else the local server on 127.0.0.1:5432 (user postgres, trust) if it answers;
#   3. else a throwaway cluster made with the machine's initdb/pg_ctl (installing
#      the Debian package first when it is missing and we are root), removed on exit.
set -euo pipefail

# WITH_POSTGRES_THROWAWAY=1 skips 1 and 2 (to try the fallback).
throwaway=${WITH_POSTGRES_THROWAWAY:-0}

if [[ $throwaway != 1 && ( -n "${TEST_DATABASE_URL:-}" || -n "${DATABASE_URL:-}" ) ]]; then
  export TEST_DATABASE_URL="${TEST_DATABASE_URL:-$DATABASE_URL}"
  exec "$@"
fi

if [[ $throwaway != 1 ]] && command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432 -t 2; then
  export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
  exec "$@"
fi

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -z "$pgbin" ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "with-postgres: installing PostgreSQL (Debian package)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  else
    echo "with-postgres: no PostgreSQL server and no initdb; set DATABASE_URL" >&2
    exit 1
  fi
fi

dir=$(mktemp -d /tmp/matching-pg.XXXXXX)
port=$(( 20000 + RANDOM % 20000 ))
as_pg=()
if [[ $(id -u) -eq 0 ]]; then
  chown postgres:postgres "$dir"
  as_pg=(runuser -u postgres --)
fi
chmod 700 "$dir"
cleanup() { "${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
"${as_pg[@]}" "$pgbin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
  start >/dev/null
echo "with-postgres: throwaway PostgreSQL on 127.0.0.1:$port" >&2
export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
"$@"
