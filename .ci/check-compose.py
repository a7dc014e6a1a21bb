"""What the Compose specification's schema cannot check in docker-compose.yml: every service a
`depends_on` names exists, every named volume is declared, every file mounted from the
repository exists, every CRM container runs a target the binary has, only the edge publishes a
port on every interface (the tools bind 127.0.0.1), Prometheus' unauthenticated lifecycle API is
off, Grafana lets nobody in anonymously, and no secret is written in the file (passwords,
service-account secrets and their hashes come from the untracked .env).

Usage: check-compose.py docker-compose.yml
"""

import os
import re
import sys

import yaml

TARGETS = {"iam", "customer", "sales", "notification", "activity", "edge", "all"}


def fail(message):
    print(f"compose: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    path = sys.argv[1]
    root = os.path.dirname(os.path.abspath(path))
    with open(path) as f:
        compose = yaml.safe_load(f)
    services = compose["services"]
    volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        for other in depends:
            if other not in services:
                fail(f"{name} depends on {other}, which is not a service")
        for mount in service.get("volumes") or []:
            source = mount.split(":")[0]
            if source.startswith("./"):
                if not os.path.exists(os.path.join(root, source)):
                    fail(f"{name} mounts {source}, which is not in the repository")
            elif source not in volumes:
                fail(f"{name} mounts the volume {source}, which is not declared")
        command = service.get("command") or []
        if service.get("image", "").startswith("kilang/crm") and command[:1] == ["serve"]:
            target = command[command.index("--target") + 1]
            if target not in TARGETS:
                fail(f"{name} serves the target {target}, which the binary does not have")
        for port in service.get("ports") or []:
            published = str(port if not isinstance(port, dict) else port.get("host_ip", "") + ":" + str(port.get("published")))
            if published.count(":") < 2 and name != "edge":
                fail(f"{name} publishes {published} on every interface: bind it to 127.0.0.1 (only the edge faces the network)")
        if "--web.enable-lifecycle" in (service.get("command") or []):
            fail(f"{name} turns on Prometheus' lifecycle API, whose reload and quit take no authentication")
        env = service.get("environment") or {}
        for key, value in (env.items() if isinstance(env, dict) else []):
            text = str(value)
            if re.search(r"ksvc_[A-Za-z0-9_-]{20,}|\b[0-9a-f]{64}\b", text) or re.search(r"://[^:/@]+:(?!\$\{)[^@]+@", text):
                fail(f"{name} sets {key} to a literal secret: take it from .env (deploy/compose/init-env.sh)")
        if str(env.get("GF_AUTH_ANONYMOUS_ENABLED", "false")).lower() == "true":
            fail(f"{name} lets anyone into Grafana anonymously")
    crm = [n for n, s in services.items() if s.get("image", "").startswith("kilang/crm")]
    print(f"compose: {len(services)} services ({len(crm)} from the CRM image), their dependencies, volumes and mounted files check out")


if __name__ == "__main__":
    main()
