#!/usr/bin/env bash
# Checks the deployment files offline (no Envoy, Docker or Kubernetes can run here): the shipped
# Envoy configuration against Envoy's v3 API and the CRM's descriptor set.
# Usage: .ci/check-deploy.sh [path to the crm binary]
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${KILANG_CI_CACHE:-$HOME/.cache/kilang-crm}"
CRM="${1:-${CARGO_TARGET_DIR:-$CACHE/target}/debug/crm}"
PY="$CACHE/deploy-py"
# Pinned: the Envoy API as Python classes (generated from envoyproxy/data-plane-api), and YAML.
REQUIREMENTS="envoy-data-plane==2.2.0 pyyaml==6.0.2"

if [ "$(cat "$PY/.requirements" 2>/dev/null)" != "$REQUIREMENTS" ]; then
  echo "==> installing $REQUIREMENTS"
  rm -rf "$PY"
  # shellcheck disable=SC2086
  python3 -m pip install --quiet --disable-pip-version-check --target "$PY" $REQUIREMENTS 2>&1 \
    | grep -v -i -e "running pip as the 'root' user" -e "dependency conflicts" -e "requires" || true
  echo "$REQUIREMENTS" > "$PY/.requirements"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$CRM" descriptors --out "$work/crm_descriptor.bin" >/dev/null
PYTHONPATH="$PY" python3 .ci/check-envoy.py helm/crm/files/envoy.yaml "$work/crm_descriptor.bin"
