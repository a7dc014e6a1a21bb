#!/usr/bin/env bash
# Makes sure the backing services the test suites use are installed and running on this machine:
# PostgreSQL on 127.0.0.1:5432 (trust auth, database `test`) and Redis on 127.0.0.1:6379.
# Usage: .ci/services.sh up
set -euo pipefail

say() { printf '==> %s\n' "$*"; }

apt_install() {
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

postgres_up() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return 0; fi
  if ! command -v pg_ctlcluster >/dev/null; then
    say "installing PostgreSQL"
    apt_install postgresql
  fi
  say "starting PostgreSQL"
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  # Tests connect as `postgres` over TCP without a password, as on the project's machines.
  if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
  pg_isready -h 127.0.0.1 -p 5432
}

postgres_database() {
  if ! psql -h 127.0.0.1 -U postgres -d test -tAc 'select 1' >/dev/null 2>&1; then
    say "creating database test"
    psql -h 127.0.0.1 -U postgres -d postgres -c 'create database test' >/dev/null
  fi
}

redis_up() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return 0; fi
  if ! command -v redis-server >/dev/null; then
    say "installing Redis"
    apt_install redis-server
  fi
  say "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null
}

case "${1:-up}" in
  up)
    postgres_up
    postgres_database
    redis_up
    say "PostgreSQL and Redis are up"
    ;;
  *)
    echo "usage: $0 up" >&2
    exit 2
    ;;
esac
