"""Checks the shipped Envoy configuration offline, since no Envoy binary can be installed here.

1. Every field, at every depth (inside each `typed_config` too, by its `@type`), must exist in
   Envoy's v3 API: the file is parsed strictly into the API's message classes from the
   `envoy-data-plane` package (generated from envoyproxy/data-plane-api), so a misspelt or
   removed field, a wrong type or an unknown `@type` fails.
2. What the API cannot say: every cluster a route or the JWKS fetch names exists; every filter
   configured per route exists in the filter chain; the router is the last filter; and every
   service the transcoder lists exists in the CRM's descriptor set with a `google.api.http` route.

Usage: check-envoy.py ENVOY_YAML DESCRIPTOR_SET
"""

import importlib
import sys

import yaml
from google.protobuf import descriptor_pb2

ENVOY_PREFIX = "type.googleapis.com/"


def type_urls(node, found):
    if isinstance(node, dict):
        if "@type" in node:
            found.add(node["@type"])
        for value in node.values():
            type_urls(value, found)
    elif isinstance(node, list):
        for value in node:
            type_urls(value, found)
    return found


def load_types(urls):
    """Imports the module of each `@type`, which registers it for Any unpacking."""
    for url in sorted(urls):
        if not url.startswith(ENVOY_PREFIX):
            fail(f"`{url}` is not a type URL ({ENVOY_PREFIX}...)")
        package, _, name = url[len(ENVOY_PREFIX):].rpartition(".")
        try:
            module = importlib.import_module(f"envoy_data_plane.{package}")
        except ModuleNotFoundError:
            fail(f"`{url}`: Envoy's API has no package {package}")
        if not hasattr(module, name):
            fail(f"`{url}`: Envoy's package {package} has no message {name}")


def fail(message):
    print(f"envoy config: {message}", file=sys.stderr)
    sys.exit(1)


def walk(node, key):
    """Every value under `key`, at any depth."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            yield from walk(v, key)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v, key)


def main():
    path, descriptors = sys.argv[1], sys.argv[2]
    with open(path) as f:
        config = yaml.safe_load(f)
    load_types(type_urls(config, set()))
    from envoy_data_plane.envoy.config.bootstrap.v3 import Bootstrap

    try:
        Bootstrap.from_dict(config)
    except (KeyError, TypeError, ValueError) as e:
        fail(f"does not match Envoy's v3 API: {e}")

    clusters = {c["name"] for c in config["static_resources"]["clusters"]}
    for route in walk(config, "route"):
        if isinstance(route, dict) and "cluster" in route and route["cluster"] not in clusters:
            fail(f"a route names the cluster `{route['cluster']}`, which is not defined")
    for uri in walk(config, "http_uri"):
        if uri["cluster"] not in clusters:
            fail(f"`{uri['uri']}` is fetched through `{uri['cluster']}`, which is not defined")

    for manager in walk(config, "typed_config"):
        if not manager.get("@type", "").endswith("HttpConnectionManager"):
            continue
        filters = [f["name"] for f in manager["http_filters"]]
        if filters[-1] != "envoy.filters.http.router":
            fail(f"the router must be the last HTTP filter, not {filters[-1]}")
        for per_filter in walk(manager["route_config"], "typed_per_filter_config"):
            for name in per_filter:
                if name not in filters:
                    fail(f"`{name}` is configured per route but is not in the filter chain")

    pool = descriptor_pb2.FileDescriptorSet()
    with open(descriptors, "rb") as f:
        pool.ParseFromString(f.read())
    services = {f"{file.package}.{s.name}": s for file in pool.file for s in file.service}
    listed = 0
    for transcoder in walk(config, "typed_config"):
        if not transcoder.get("@type", "").endswith("GrpcJsonTranscoder"):
            continue
        for name in transcoder["services"]:
            service = services.get(name)
            if service is None:
                fail(f"the transcoder lists `{name}`, which the descriptor set does not have")
            # Option 72295728 is google.api.http: a service without any is not transcoded.
            if not any(m.options.ByteSize() for m in service.method):
                fail(f"`{name}` has no google.api.http routes to transcode")
            listed += 1
        crm = {n for n in services if n.startswith("crm.") and n != "crm.iam.v1.DirectoryService"}
        missing = sorted(crm - set(transcoder["services"]))
        if missing:
            fail(f"the transcoder leaves out {', '.join(missing)}")
    print(f"envoy config: {path} matches Envoy's v3 API; {len(clusters)} clusters, {listed} transcoded services")


if __name__ == "__main__":
    main()
