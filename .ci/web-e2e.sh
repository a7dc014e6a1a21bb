#!/usr/bin/env bash
# The console's journey in a real browser: Debian's Chromium (installed with apt when missing)
# driven by playwright-core (no browser download) against a `crm serve` the journey starts.
# Screenshots of each main screen are kept under the cache dir.
# With E2E_CUSTOMER_STORE=mongodb and E2E_MONGODB_URL, the customers live on MongoDB. Single
# sign-on goes through oauth2-mock-server under OIDC_PROVIDER_MODULES (`.ci/services.sh up`
# installs it there).
# Usage: .ci/web-e2e.sh [path to the crm binary]   (after .ci/web.sh installed web/node_modules)
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${KILANG_CI_CACHE:-$HOME/.cache/kilang-crm}"
CRM="${1:-${CARGO_TARGET_DIR:-$CACHE/target}/debug/crm}"
export OIDC_PROVIDER_MODULES="${OIDC_PROVIDER_MODULES:-$CACHE/npm}"
if [ ! -x /usr/bin/chromium ]; then
  echo "==> installing Debian's chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
[ -d web/node_modules ] || (cd web && npm ci --no-audit --no-fund --cache "$CACHE/npm-cache" --prefer-offline >/dev/null)
mkdir -p "$CACHE/screenshots"
cd web
E2E_CRM="$CRM" CHROMIUM=/usr/bin/chromium SCREENSHOTS="$CACHE/screenshots" node e2e/journey.mjs
