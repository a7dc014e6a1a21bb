#!/usr/bin/env bash
# Writes the `.env` docker compose reads (beside docker-compose.yml; untracked): a random
# PostgreSQL password, and sales' service-account secret with the hash IAM checks it by, made by
# the CRM itself (`crm service-account secret sales --env`). Run once before the first
# `docker compose up`; an existing `.env` is kept (its password is the database's now).
# Usage: deploy/compose/init-env.sh [crm command]   (default: the kilang/crm:dev image, else
#        ./target/release/crm, else `cargo run --release -p crm --`)
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -f .env ]; then
  echo ".env exists; keeping it (remove it only together with the compose volumes)" >&2
  exit 0
fi
if [ $# -gt 0 ]; then
  crm=("$@")
elif command -v docker >/dev/null && docker image inspect kilang/crm:dev >/dev/null 2>&1; then
  crm=(docker run --rm kilang/crm:dev)
elif [ -x target/release/crm ]; then
  crm=(target/release/crm)
else
  crm=(cargo run -q --release -p crm --)
fi
umask 077
{
  echo "# Made by deploy/compose/init-env.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ). Keep it secret; never commit it."
  echo "POSTGRES_PASSWORD=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  "${crm[@]}" service-account secret sales --env
} > .env.new
mv .env.new .env
echo "wrote .env (a database password and sales' service-account secret)" >&2
