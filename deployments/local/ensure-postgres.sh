#!/usr/bin/env bash
# Makes sure PostgreSQL answers on 127.0.0.1:5432 with trust auth for user
# postgres: starts the local cluster when it is stopped, installs it from
# Debian's packages when it is missing.
set -euo pipefail

ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
ready && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "PostgreSQL is not installed; installing it from Debian's packages…"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
  version=$(ls /etc/postgresql | sort -n | tail -1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  # The project's machines use trust auth on loopback; so does this one.
  $sudo sed -i -E 's/^(local|host)(\s+all\s+all\s+.*)\s(peer|scram-sha-256|md5)$/\1\2 trust/' "$hba"
  $sudo sed -i -E 's/^(local\s+all\s+postgres\s+)peer$/\1trust/' "$hba"
fi

for version in $(ls /etc/postgresql); do
  echo "starting PostgreSQL $version…"
  $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
done

for _ in $(seq 1 60); do
  ready && exit 0
  sleep 0.5
done
echo "PostgreSQL does not answer on 127.0.0.1:5432" >&2
exit 1
