"""Checks the helm chart without a cluster or a helm binary.

For each value set in helm/crm/ci/*-values.yaml: the values pass values.schema.json, the chart
renders (Helm's own Go SDK, through helm-python-sdk), and every rendered manifest validates,
strictly (no unknown fields), against the Kubernetes schemas of KUBERNETES_VERSION
(kubernetes-validate). Custom resources of the Prometheus Operator, which those schemas do not
have, are checked for their kind and required parts only. Every Deployment's containers have
startup, readiness and liveness probes; every Deployment of more than one pod has a
PodDisruptionBudget; and when NetworkPolicies are rendered, every Deployment's pods are
selected by one (Envoy's as much as the CRM's). Then a few wrong value sets must be refused by
the schema, naming the value.

Usage: check-chart.py CHART_DIR
"""

import glob
import os
import sys

import helm_python as helm
import kubernetes_validate
import yaml

KUBERNETES_VERSION = "1.34.0"
CUSTOM = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): ["selector", "endpoints"],
    ("monitoring.coreos.com/v1", "PrometheusRule"): ["groups"],
}
# Values that must be refused, and what the refusal must name.
REFUSED = [
    ({"mode": "cluster"}, "/mode"),
    ({"mode": "microservices"}, "/kafka/brokers"),
    # A secret where its hash belongs; a hash or secret published in an example; the hash in
    # values at all (it comes from the credentials Secret).
    ({"secrets": {"salesServiceAccountHash": "ksvc_the-secret-itself"}}, "/secrets/salesServiceAccountHash"),
    (
        {"secrets": {"salesServiceAccountHash": "b418f6425e663d05a2f4476af1b729a99efae784476654947ac9ba9c57def694"}},
        "/secrets/salesServiceAccountHash",
    ),
    ({"secrets": {"salesServiceSecret": "ksvc_FMDd27odAzQYtL9et5M0Iy9-7vKEFXHeKZBcrD4Mvgo"}}, "/secrets/salesServiceSecret"),
    ({"iam": {"salesServiceAccountHash": "0" * 64}}, "/iam"),
    ({"targets": {"iam": {"enabled": True, "replicas": 0}}}, "/targets/iam/replicas"),
    ({"secrets": {"databaseUrl": "mysql://db/crm"}}, "/secrets/databaseUrl"),
    ({"ingress": {"enabled": True, "hosts": ["crm.example"]}}, "hosts"),
]


def fail(message):
    print(f"chart: {message}", file=sys.stderr)
    sys.exit(1)


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def coverage(docs, name):
    """Probes, disruption budgets and network policies for every Deployment."""
    deployments = [d for d in docs if d.get("kind") == "Deployment"]
    budgets = [d for d in docs if d.get("kind") == "PodDisruptionBudget"]
    policies = [d for d in docs if d.get("kind") == "NetworkPolicy"]
    scaled = {d["spec"]["scaleTargetRef"]["name"] for d in docs if d.get("kind") == "HorizontalPodAutoscaler"}
    for deployment in deployments:
        where = f"{name}: Deployment {deployment['metadata']['name']}"
        template = deployment["spec"]["template"]
        labels = template["metadata"].get("labels", {})
        for container in template["spec"]["containers"]:
            missing = [p for p in ("startupProbe", "readinessProbe", "livenessProbe") if p not in container]
            if missing:
                fail(f"{where}: container {container['name']} has no {', '.join(missing)}")
        if deployment["spec"].get("replicas", 1) > 1 or deployment["metadata"]["name"] in scaled:
            if not any(selects(b["spec"]["selector"].get("matchLabels"), labels) for b in budgets):
                fail(f"{where}: more than one pod and no PodDisruptionBudget")
        if policies and not any(selects(p["spec"]["podSelector"].get("matchLabels"), labels) for p in policies):
            fail(f"{where}: NetworkPolicies are on, and none selects its pods")


def check(chart, values, name):
    chart.validate_schema(values)
    rendered = chart.render(values, name="crm", namespace="crm", is_install=True)
    kinds = {}
    docs = []
    for template, text in sorted(rendered.items()):
        if not template.endswith(".yaml"):
            continue
        for doc in yaml.safe_load_all(text):
            if not doc:
                continue
            docs.append(doc)
            where = f"{name}: {template}: {doc.get('kind')} {doc.get('metadata', {}).get('name')}"
            key = (doc.get("apiVersion"), doc.get("kind"))
            kinds[doc.get("kind")] = kinds.get(doc.get("kind"), 0) + 1
            if key in CUSTOM:
                missing = [k for k in CUSTOM[key] if k not in doc.get("spec", {})]
                if missing:
                    fail(f"{where}: spec lacks {', '.join(missing)}")
                continue
            try:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as e:
                path = "/".join(str(p) for p in e.path)
                fail(f"{where}: {path}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError as e:
                fail(f"{where}: no Kubernetes {KUBERNETES_VERSION} schema for it ({e})")
    coverage(docs, name)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    print(f"chart: {name}: {sum(kinds.values())} manifests valid for Kubernetes {KUBERNETES_VERSION} ({summary})")
    return kinds


def main():
    chart_dir = sys.argv[1]
    with helm.Chart.load(chart_dir) as chart:
        sets = sorted(glob.glob(os.path.join(chart_dir, "ci", "*-values.yaml")))
        if not sets:
            fail(f"no value sets in {chart_dir}/ci")
        for path in sets:
            with open(path) as f:
                values = yaml.safe_load(f) or {}
            try:
                kinds = check(chart, values, os.path.basename(path))
            except helm.HelmError as e:
                fail(f"{os.path.basename(path)}: {e}")
            if values.get("mode") == "microservices":
                for kind in ["Deployment", "Service", "Job", "NetworkPolicy", "PodDisruptionBudget", "HorizontalPodAutoscaler", "Ingress", "ServiceMonitor", "PrometheusRule"]:
                    if kind not in kinds:
                        fail(f"{os.path.basename(path)}: renders no {kind}")
        for values, named in REFUSED:
            try:
                chart.validate_schema(values)
            except helm.HelmError as e:
                if named not in str(e):
                    fail(f"{values} was refused, but the message does not name {named}: {e}")
                continue
            fail(f"{values} should be refused (naming {named}) but passed")
        print(f"chart: {len(REFUSED)} wrong value sets refused, each naming its value")


if __name__ == "__main__":
    main()
