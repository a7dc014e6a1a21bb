#!/usr/bin/env bash
# The web console: installs its locked dependencies (npm ci, cache under the cache dir),
# generates its clients from proto/, runs its unit tests (Vitest), builds it, and fails if the
# build differs from the committed web/dist (which the `crm` binary embeds).
# Usage: .ci/web.sh
set -euo pipefail
cd "$(dirname "$0")/../web"

CACHE="${KILANG_CI_CACHE:-$HOME/.cache/kilang-crm}"
if ! command -v npm >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
fi
npm ci --no-audit --no-fund --cache "$CACHE/npm-cache" --prefer-offline >/dev/null
npm test
npm run build
cd ..
if ! git diff --quiet -- web/dist || [ -n "$(git status --porcelain -- web/dist)" ]; then
  git status --short -- web/dist
  echo "web/dist differs from what web/ builds to: run \`just web\` and commit web/dist" >&2
  exit 1
fi
echo "web: the committed build is what the sources build to"
