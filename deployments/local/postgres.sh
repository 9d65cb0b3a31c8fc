#!/usr/bin/env bash
# Prints the URL of database ${2:-postgres} on the project's own PostgreSQL
# cluster, starting it first: a cluster under ${1:-.data}/postgres made with
# initdb and run with pg_ctl from Debian's packages (installed when missing),
# on 127.0.0.1:${STRIPELINE_PG_PORT:-54329} and a socket of its own, trust
# auth for user postgres. make run, make test, make bench and make chaos use
# it when DATABASE_URL (or STRIPELINE_TEST_POSTGRES) does not name a server.
#
# Nothing outside the data folder changes, except Debian's packages when they
# were missing: no system cluster is touched, no pg_hba.conf rewritten.
# initdb refuses to run as root, so as root the cluster runs as the
# unprivileged user postgres (which Debian's package creates).
#
# When the cluster cannot be started and a server answers on 127.0.0.1:5432,
# that server's URL is printed instead, with a warning on stderr.
set -euo pipefail

data="$(realpath -m "${1:-.data}")/postgres"
db="${2:-postgres}"
port="${STRIPELINE_PG_PORT:-54329}"
url="postgres://postgres@127.0.0.1:$port/$db?sslmode=disable"

say() { echo "postgres.sh: $*" >&2; }

fallback() {
  say "$1"
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    say "using the server on 127.0.0.1:5432 instead"
    echo "postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
    exit 0
  fi
  exit 1
}

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
bin="$(bindir)"
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  say "PostgreSQL is not installed; installing it from Debian's packages…"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  # The package makes a system cluster of its own; it is left alone.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
  bin="$(bindir)"
fi
[ -n "$bin" ] || fallback "no PostgreSQL binaries under /usr/lib/postgresql"

if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" 2>/dev/null; then
  echo "$url"
  exit 0
fi

# Who runs the cluster: this user, or postgres when this is root.
run=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || fallback "running as root and there is no user postgres to run the cluster as"
  run=(runuser -u postgres --)
  # The data folder must be reachable by that user; a clone under a private
  # home is not, so the cluster then lives in the temporary folder.
  mkdir -p "$data"
  chown postgres "$data"
  if ! "${run[@]}" test -w "$data"; then
    data="${TMPDIR:-/tmp}/stripeline-postgres-$(echo -n "$data" | sha256sum | cut -c1-12)"
    mkdir -p "$data"
    chown postgres "$data"
  fi
fi
mkdir -p "$data"
if [ ! -f "$data/db/PG_VERSION" ]; then
  say "creating the project's PostgreSQL cluster in $data/db"
  "${run[@]}" "$bin/initdb" -D "$data/db" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$data/initdb.log" 2>&1 ||
    fallback "initdb failed (see $data/initdb.log)"
fi
"${run[@]}" mkdir -p "$data/run"
"${run[@]}" "$bin/pg_ctl" -D "$data/db" -l "$data/server.log" -w -t 60 \
  -o "-p $port -k $data/run -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null ||
  fallback "the cluster did not start (see $data/server.log)"
echo "$url"
