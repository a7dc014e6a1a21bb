#!/usr/bin/env bash
# Makes sure the backing services the test suites use are installed and running on this machine:
# PostgreSQL on 127.0.0.1:5432 (trust auth, database `test`), Redis on 127.0.0.1:6379 and a
# Kafka-compatible broker (tansu, in memory) on 127.0.0.1:9092, with confluent-kafka (Python) as a
# stock client beside it. `up` also installs the OpenID provider the single sign-on tests start
# (npm oauth2-mock-server, into $CACHE/npm: OIDC_PROVIDER_MODULES) and the SMTP server the
# notification bench and the cluster use (aiosmtpd from PyPI, into $CACHE/py: AIOSMTPD_PYTHONPATH;
# the notification tests start their own, in Rust).
# `mongodb` installs SecantusDB (PyPI), a server of MongoDB's wire protocol on WiredTiger that
# presents itself as a one-node replica set (MongoDB itself cannot be installed on these
# machines), starts it on a free port with a fresh data directory, and prints its URL.
# `tansu` builds the broker if it is missing and prints its path (`just cluster` uses it).
# `redis` starts only Redis (the cluster's soak stops it as a fault).
# Usage: .ci/services.sh up | kafka | mongodb | tansu | redis
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

CACHE="${KILANG_CI_CACHE:-$HOME/.cache/kilang-crm}"
# One tansu build serves both the tests (in memory) and `just cluster` (its PostgreSQL storage).
TANSU_VERSION=0.6.0
TANSU="$CACHE/tools/tansu-$TANSU_VERSION/bin/tansu"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Builds the broker once (with its in-memory storage for the tests and its PostgreSQL storage for
# `just cluster`) and prints its path.
tansu_install() {
  if [ ! -x "$TANSU" ]; then
    mkdir -p "$CACHE/tools"
    say "building the tansu broker $TANSU_VERSION (about 13 minutes once; cached in $CACHE/tools)" >&2
    cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore,postgres \
      --root "$CACHE/tools/tansu-$TANSU_VERSION" >"$CACHE/tansu-install.log" 2>&1 \
      || { tail -20 "$CACHE/tansu-install.log" >&2; exit 1; }
  fi
  echo "$TANSU"
}

kafka_up() {
  # A stock Kafka client for the tests that read topics as outside systems do.
  if ! python3 -c 'import confluent_kafka' 2>/dev/null; then
    say "installing confluent-kafka (Python)"
    python3 -m pip install -q confluent-kafka 2>&1 | grep -v 'Running pip as the' || true
  fi
  if port_open 9092; then return 0; fi
  tansu_install >/dev/null
  say "starting tansu on 127.0.0.1:9092"
  nohup "$TANSU" broker --listener-url tcp://127.0.0.1:9092 --advertised-listener-url tcp://127.0.0.1:9092 \
    --storage-engine memory://tansu/ >"$CACHE/tansu.log" 2>&1 &
  for _ in $(seq 100); do port_open 9092 && break; sleep 0.2; done
  port_open 9092 || { tail -20 "$CACHE/tansu.log"; echo "tansu did not start" >&2; exit 1; }
}

OIDC_MOCK_VERSION=8.2.3
oidc_provider_install() {
  local dir="$CACHE/npm/node_modules/oauth2-mock-server"
  if [ -f "$dir/package.json" ] && grep -q "\"version\": \"$OIDC_MOCK_VERSION\"" "$dir/package.json"; then
    return 0
  fi
  command -v npm >/dev/null || apt_install npm
  say "installing oauth2-mock-server $OIDC_MOCK_VERSION (the OpenID provider of the SSO tests)"
  npm install --silent --no-audit --no-fund --prefix "$CACHE/npm" "oauth2-mock-server@$OIDC_MOCK_VERSION" >/dev/null
}

AIOSMTPD_VERSION=1.4.6
smtp_server_install() {
  if PYTHONPATH="$CACHE/py" python3 -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$AIOSMTPD_VERSION')" 2>/dev/null; then
    return 0
  fi
  say "installing aiosmtpd $AIOSMTPD_VERSION (the SMTP server of the notification bench)"
  python3 -m pip install --quiet --disable-pip-version-check --target "$CACHE/py" "aiosmtpd==$AIOSMTPD_VERSION" 2>&1 | grep -v "running pip as the 'root' user" || true
  PYTHONPATH="$CACHE/py" python3 -c "import aiosmtpd" || { echo "aiosmtpd did not install" >&2; exit 1; }
}

SECANTUS_VERSION=0.7.0b3
SECANTUS="$CACHE/secantus"
mongodb_up() {
  if ! PYTHONPATH="$SECANTUS" python3 -c "import importlib.metadata as m, sys; sys.exit(m.version('SecantusDB') != '$SECANTUS_VERSION')" 2>/dev/null; then
    say "installing SecantusDB $SECANTUS_VERSION (a MongoDB wire-protocol server, for the MongoDB suites)" >&2
    rm -rf "$SECANTUS"
    python3 -m pip install --quiet --disable-pip-version-check --pre --target "$SECANTUS" "SecantusDB==$SECANTUS_VERSION" 2>&1 \
      | grep -v -i -e "running pip as the 'root' user" -e "dependency conflicts" -e "requires" -e "incompatible" >&2 || true
    PYTHONPATH="$SECANTUS" python3 -c "import secantus" || { echo "SecantusDB did not install" >&2; exit 1; }
  fi
  local port dir
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  dir="$CACHE/secantus-data"
  # A fresh store each time: the suites make databases of their own and drop them, but a run
  # that was killed leaves its own behind. The last server stops first, and only then does its
  # store go (a server still checkpointing into a directory that is being replaced corrupts it).
  if [ -f "$dir.pid" ]; then
    local old
    old=$(cat "$dir.pid")
    kill "$old" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$old" 2>/dev/null || true
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  PYTHONPATH="$SECANTUS" nohup python3 -m secantus --host 127.0.0.1 --port "$port" --storage-path "$dir/db" \
    --log-level WARNING >"$dir.log" 2>&1 &
  echo $! >"$dir.pid"
  for _ in $(seq 100); do port_open "$port" && break; sleep 0.2; done
  port_open "$port" || { tail -20 "$dir.log" >&2; echo "SecantusDB did not start" >&2; exit 1; }
  say "SecantusDB $SECANTUS_VERSION is up on 127.0.0.1:$port (pid $(cat "$dir.pid"))" >&2
  echo "mongodb://127.0.0.1:$port/?directConnection=true"
}

case "${1:-up}" in
  up)
    postgres_up
    postgres_database
    redis_up
    oidc_provider_install
    smtp_server_install
    say "PostgreSQL and Redis are up; the OpenID provider is in $CACHE/npm (OIDC_PROVIDER_MODULES), the SMTP server in $CACHE/py (AIOSMTPD_PYTHONPATH)"
    ;;
  kafka)
    kafka_up
    say "Kafka (tansu) is up on 127.0.0.1:9092"
    ;;
  mongodb)
    mongodb_up
    ;;
  tansu)
    tansu_install
    ;;
  redis)
    redis_up
    ;;
  *)
    echo "usage: $0 up | kafka | mongodb | tansu | redis" >&2
    exit 2
    ;;
esac
