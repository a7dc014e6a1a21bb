"""Turns every query of the shipped Grafana dashboards into a Prometheus recording rule, so that
`promtool check rules` parses each one (Grafana's own variables replaced by sample values), and
checks each panel names its datasource and each query a metric the CRM exports.

Usage: check-dashboards.py OUT_RULES_FILE DASHBOARD.json...
"""

import json
import re
import sys

import yaml

VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$service": ".*"}
# Every metric the CRM exports (services/crm/src/metrics.rs, shared/core/src/metrics.rs).
EXPORTED = {
    "crm_rpc_server_requests_total",
    "crm_rpc_server_duration_seconds_bucket",
    "crm_rpc_server_duration_seconds_count",
    "crm_rpc_server_duration_seconds_sum",
    "crm_db_pool_connections",
    "crm_outbox_backlog",
    "crm_outbox_oldest_unpublished_age_seconds",
    "crm_consumer_lag",
    "crm_dead_letters",
    "crm_circuit_breaker_state",
    "crm_notification_deliveries_total",
    "crm_task_restarts_total",
}


def fail(message):
    print(f"dashboards: {message}", file=sys.stderr)
    sys.exit(1)


def panels(nodes):
    for node in nodes:
        yield node
        yield from panels(node.get("panels", []))


def main():
    out, paths = sys.argv[1], sys.argv[2:]
    rules = []
    for path in paths:
        with open(path) as f:
            dashboard = json.load(f)
        for key in ["uid", "title", "panels"]:
            if key not in dashboard:
                fail(f"{path}: no {key}")
        for panel in panels(dashboard["panels"]):
            if panel.get("type") == "row":
                continue
            if "datasource" not in panel:
                fail(f"{path}: panel {panel.get('title')!r} names no datasource")
            for target in panel.get("targets", []):
                expr = target["expr"]
                for name, value in VARIABLES.items():
                    expr = expr.replace(name, value)
                if "$" in expr:
                    fail(f"{path}: {panel['title']!r}: an unknown variable in {expr}")
                metrics = set(re.findall(r"\bcrm_[a-z_]+\b", expr))
                unknown = metrics - EXPORTED
                if not metrics or unknown:
                    fail(f"{path}: {panel['title']!r} queries {sorted(unknown) or 'no CRM metric'}")
                rules.append({"record": f"dashboard:query_{len(rules)}", "expr": expr})
    with open(out, "w") as f:
        yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, f)
    print(f"dashboards: {len(rules)} queries of {len(paths)} dashboard(s) written as rules to {out}")


if __name__ == "__main__":
    main()
