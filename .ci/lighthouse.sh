#!/usr/bin/env bash
# Lighthouse on every screen of the console, desktop and mobile, against a fresh `crm serve`
# (embedded storage): every category must score at least 95 (web/e2e/lighthouse.mjs says which
# audits pulled a score down). Needs web/node_modules (.ci/web.sh) and Debian's Chromium
# (.ci/web-e2e.sh installs it).
# Usage: .ci/lighthouse.sh [path to the crm binary]
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${KILANG_CI_CACHE:-$HOME/.cache/kilang-crm}"
CRM="${1:-${CARGO_TARGET_DIR:-$CACHE/target}/debug/crm}"
[ -d web/node_modules ] || (cd web && npm ci --no-audit --no-fund --cache "$CACHE/npm-cache" --prefer-offline >/dev/null)
data=$(mktemp -d)
out=$(mktemp)
# Embedded storage whatever this shell has configured.
env -u DATABASE_URL -u REDIS_URL -u KAFKA_BROKERS -u MONGODB_URL \
  "$CRM" serve --listen 127.0.0.1:0 --data-dir "$data" >"$out" 2>"$data/serve.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data" "$out"' EXIT
addr=""
for _ in $(seq 1 300); do
  addr=$(sed -n 's/^crm serving .* on //p' "$out" | head -1)
  [ -n "$addr" ] && break
  kill -0 "$server" 2>/dev/null || { echo "crm serve exited:" >&2; tail -20 "$data/serve.log" >&2; exit 1; }
  sleep 0.2
done
[ -n "$addr" ] || { echo "crm serve did not start in 60 s" >&2; exit 1; }
cd web
BASE="http://$addr" CHROMIUM=/usr/bin/chromium node e2e/lighthouse.mjs
