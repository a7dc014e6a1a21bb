#!/usr/bin/env python3
"""Holds the alert rules' unit tests to what the server really exposes.

Reads a scrape of a freshly started `crm serve` in both formats (the Prometheus text format and
OpenMetrics) with the classic and the OpenMetrics parsers of `prometheus_client`, then checks
every input series of helm/crm/files/alerts.test.yml against it:

- series of other exporters (`up`, `kube_*`) are named below and left alone;
- a series the server shows from its start (dead letters, consumer lag, outbox ages, breakers,
  delivery counters) must be in the fresh scrape with exactly those labels; and where a rule
  reads it as a change (rate, increase, *_over_time), the test must start it at the value the
  server starts it at: a rule test that starts a series the server never emits, or at a value
  it never has, proves nothing about the real server;
- a series the server makes as calls arrive (calls, latency) must have exactly the label names
  the server gives that metric, and label values the server can give (its own codes and
  protocols, services it serves);
- every metric an alert rule reads must be one the server exposes, under the type the rule
  assumes (a `_total` counter read with rate or increase).

Usage: .ci/check-alerts.py SCRAPE.txt SCRAPE.openmetrics OPENAPI.json ALERTS.test.yml ALERTS.yml
"""

import json
import re
import sys

import yaml
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families as classic_families

FOREIGN = {"up": "Prometheus' own scrape health", "kube_pod_container_status_restarts_total": "kube-state-metrics"}
# Metrics whose series appear as calls arrive, and the values their labels can take.
DYNAMIC_LABELS = {
    "code": {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
             "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
             "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
             "UNAUTHENTICATED"},
    "protocol": {"grpc", "grpc_web", "rest"},
}
DYNAMIC = {"crm_rpc_server_requests_total": ["service", "method", "protocol", "code"],
           "crm_rpc_server_duration_seconds_bucket": ["service", "method", "protocol", "le"],
           "crm_rpc_server_duration_seconds_count": ["service", "method", "protocol"],
           "crm_rpc_server_duration_seconds_sum": ["service", "method", "protocol"]}
SERIES = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$")
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def parse_series(text):
    name, labels = SERIES.match(text.strip()).groups()
    return name, dict(LABEL.findall(labels or ""))


def first_value(values):
    """The first sample of a promtool values expression (`0+1x10`, `5 5 6`, `_x3 1`...)."""
    head = values.split()[0]
    head = re.split(r"(?<=\d)[+-]", head)[0].split("x")[0]
    return None if head in ("_", "stale") else float(head)


def main():
    classic_text, open_text, openapi_file, tests_file, rules_file = sys.argv[1:6]
    problems = []
    samples = {}
    types = {}
    for family in classic_families(open(classic_text).read()):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    # The OpenMetrics answer must parse too, and hold the same families.
    open_names = set()
    for family in openmetrics_families(open(open_text).read()):
        open_names.update(s.name for s in family.samples)
    classic_names = {name for name, _ in samples}
    if classic_names - open_names:
        problems.append(f"in the classic scrape but not in OpenMetrics: {sorted(classic_names - open_names)}")
    for counter in ("crm_rpc_server_requests", "crm_notification_deliveries", "process_cpu_seconds"):
        if types.get(counter) != "counter":
            problems.append(f"{counter}_total is read as {types.get(counter)!r} by the classic parser, not counter")
    for needed in ("process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds",
                   "crm_build_info"):
        if not any(name == needed for name, _ in samples):
            problems.append(f"the scrape has no {needed}")

    # The services the server serves: every operation of its OpenAPI document names its own.
    services = {tag["name"] for tag in json.load(open(openapi_file)).get("tags", [])}
    for path in json.load(open(openapi_file))["paths"].values():
        for operation in path.values():
            services.update(operation.get("tags", []))

    rules = yaml.safe_load(open(rules_file))
    # Metrics a rule reads as a change over time: how their series start matters.
    read_as_change = set()
    for group in rules["groups"]:
        for rule in group["rules"]:
            for metric in re.findall(r"(?:rate|increase|_over_time|delta|changes)\(\s*([a-z_:]+)", rule["expr"]):
                read_as_change.add(metric)
            # `x - min_over_time(x[..])`: x itself too.
            read_as_change.update(re.findall(r"_over_time\(\s*([a-z_:]+)", rule["expr"]))

    tests = yaml.safe_load(open(tests_file))
    checked = 0
    for test in tests["tests"]:
        for series in test.get("input_series", []):
            name, labels = parse_series(series["series"])
            where = f"{test['name']!r}: {series['series']}"
            if name in FOREIGN:
                continue
            checked += 1
            if name in DYNAMIC:
                if sorted(labels) != sorted(DYNAMIC[name]):
                    problems.append(f"{where}: labels {sorted(labels)}, the server gives {DYNAMIC[name]}")
                for key, allowed in DYNAMIC_LABELS.items():
                    if key in labels and labels[key] not in allowed:
                        problems.append(f"{where}: {key}={labels[key]!r} is never given by the server")
                if "service" in labels and labels["service"] not in services:
                    problems.append(f"{where}: the server serves no {labels['service']}")
                continue
            key = (name, tuple(sorted(labels.items())))
            if key not in samples:
                near = sorted(dict(l) for (n, l) in samples if n == name)
                problems.append(f"{where}: the server never shows this series at its start; it shows {near or 'no ' + name}")
                continue
            start = first_value(str(series["values"]))
            if name in read_as_change and start is not None and start != samples[key]:
                problems.append(f"{where}: starts at {start}, the server starts it at {samples[key]}")

    exposed = {name for name, _ in samples} | set(DYNAMIC) | set(FOREIGN)
    for group in rules["groups"]:
        for rule in group["rules"]:
            for metric in re.findall(r"\b(crm_[a-z_]+|process_[a-z_]+)\b", rule["expr"]):
                if metric not in exposed:
                    problems.append(f"{rule['alert']}: reads {metric}, which the server does not expose")

    for problem in problems:
        print("✗ " + problem)
    print(f"alerts: {checked} input series checked against a real scrape ({len(samples)} samples), {len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
