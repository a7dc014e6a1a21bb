#!/usr/bin/env bash
# Checks the deployment files offline (no Envoy, Docker engine or Kubernetes cluster can run
# here), with pinned tools installed under the cache dir:
#   - docker-compose.yml against the Compose specification's schema (check-jsonschema), and
#     what the schema cannot say (.ci/check-compose.py);
#   - the helm chart rendered for every value set in helm/crm/ci/ and each manifest validated
#     against the Kubernetes schemas; wrong values refused (.ci/check-chart.py);
#   - the Prometheus alert rules (promtool check rules) and their unit tests (promtool test
#     rules), and every dashboard query parsed by promtool (.ci/check-dashboards.py);
#   - the shipped Envoy configuration against Envoy's v3 API and the CRM's descriptor set
#     (.ci/check-envoy.py).
# Usage: .ci/check-deploy.sh [path to the crm binary]
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${KILANG_CI_CACHE:-$HOME/.cache/kilang-crm}"
CRM="${1:-${CARGO_TARGET_DIR:-$CACHE/target}/debug/crm}"
PY="$CACHE/deploy-py"
REQUIREMENTS="envoy-data-plane==2.2.0 pyyaml==6.0.2 helm-python-sdk==0.2.2 kubernetes-validate==1.37.0 check-jsonschema==0.39.0 prometheus-client==0.23.1"
# checkov has its own, pinned, in its own directory (its dependencies pin what the others need).
CHECKOV="$CACHE/checkov"
CHECKOV_VERSION=3.3.30
PROM="$CACHE/prometheus"

if [ "$(cat "$PY/.requirements" 2>/dev/null)" != "$REQUIREMENTS" ]; then
  echo "==> installing $REQUIREMENTS"
  rm -rf "$PY"
  # shellcheck disable=SC2086
  python3 -m pip install --quiet --disable-pip-version-check --target "$PY" $REQUIREMENTS 2>&1 \
    | grep -v -i -e "running pip as the 'root' user" -e "dependency conflicts" -e "requires" || true
  echo "$REQUIREMENTS" > "$PY/.requirements"
fi
# promtool from Debian's prometheus package, unpacked (no service is installed or started).
if [ ! -x "$PROM/usr/bin/promtool" ]; then
  echo "==> fetching promtool (Debian's prometheus package, unpacked under $PROM)"
  rm -rf "$PROM" && mkdir -p "$PROM"
  (cd "$PROM" \
    && { apt-get download -qq prometheus 2>/dev/null || { apt-get update -qq && apt-get download -qq prometheus 2>/dev/null; }; } \
    && dpkg -x prometheus_*.deb . && rm -f prometheus_*.deb)
fi
promtool() { "$PROM/usr/bin/promtool" "$@"; }
if ! PYTHONPATH="$CHECKOV" python3 -c "import importlib.metadata as m, sys; sys.exit(m.version('checkov') != '$CHECKOV_VERSION')" 2>/dev/null; then
  echo "==> installing checkov $CHECKOV_VERSION"
  rm -rf "$CHECKOV"
  python3 -m pip install --quiet --disable-pip-version-check --target "$CHECKOV" "checkov==$CHECKOV_VERSION" 2>&1 \
    | grep -v -i -e "running pip as the 'root' user" -e "dependency conflicts" -e "requires" -e "incompatible" || true
fi
export PYTHONPATH="$PY"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "--> checkov: no secret anywhere in the repository, and the Dockerfile's checks"
# (It asks Prisma Cloud for guideline links it cannot reach here; that warning is harmless.)
PYTHONPATH="$CHECKOV" python3 "$CHECKOV/bin/checkov" -d . --framework secrets dockerfile \
  --skip-path node_modules --skip-path web/dist --compact --quiet 2>/dev/null

echo "--> docker-compose.yml"
python3 -m check_jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
python3 .ci/check-compose.py docker-compose.yml

echo "--> helm/crm"
python3 .ci/check-chart.py helm/crm

echo "--> /metrics as scrapers read it, and the alert rules' tests against a real scrape"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
env -u DATABASE_URL -u REDIS_URL -u KAFKA_BROKERS -u MONGODB_URL \
  "$CRM" serve --listen "127.0.0.1:$port" --data-dir "$work/data" >"$work/serve.log" 2>&1 &
crm_pid=$!
trap 'kill "$crm_pid" 2>/dev/null || true; wait "$crm_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
up=""
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/metrics" >/dev/null && { up=1; break; }; sleep 0.1; done
[ -n "$up" ] || { echo "crm serve did not answer on :$port within 30 s; its log:"; cat "$work/serve.log"; exit 1; }
# One call, so the per-call series exist too (a served REST call: GetJwks).
curl -sf "http://127.0.0.1:$port/.well-known/jwks.json" >/dev/null
curl -sf -H 'Accept: text/plain' "http://127.0.0.1:$port/metrics" >"$work/metrics.txt"
curl -sf -H 'Accept: application/openmetrics-text; version=1.0.0' "http://127.0.0.1:$port/metrics" >"$work/metrics.om"
curl -sf "http://127.0.0.1:$port/api/v1/openapi.json" >"$work/openapi.json"
kill "$crm_pid"; wait "$crm_pid" 2>/dev/null || true
promtool check metrics <"$work/metrics.txt"
python3 .ci/check-alerts.py "$work/metrics.txt" "$work/metrics.om" "$work/openapi.json" \
  helm/crm/files/alerts.test.yml helm/crm/files/alerts.yml

echo "--> alert rules and dashboards"
promtool check rules helm/crm/files/alerts.yml
(cd helm/crm/files && promtool test rules alerts.test.yml)
python3 .ci/check-dashboards.py "$work/dashboards.rules.yml" helm/crm/files/dashboards/*.json
promtool check rules "$work/dashboards.rules.yml"

echo "--> Envoy"
"$CRM" descriptors --out "$work/crm_descriptor.bin" >/dev/null
python3 .ci/check-envoy.py helm/crm/files/envoy.yaml "$work/crm_descriptor.bin"
