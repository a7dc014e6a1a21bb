#!/usr/bin/env python3
"""`just load`: a sales team's day (load/locustfile.py) against an edge, headless, then a report.

    just load                      # 50 people for 2 minutes against `just cluster up`'s first edge
    just load 200 5m               # 200 people for 5 minutes
    python3 load/run.py --host http://127.0.0.1:50051 --users 100 --duration 3m

Installs Locust and gRPC's Python tools (load/requirements.txt) once into
~/.cache/kilang-crm/load, generates gRPC stubs from proto/ (the same contracts the CRM serves),
runs Locust headless (its progress every few seconds), waits for every outbox to drain and every
consumer to catch up (each process's /metrics, at most 60 s), reads back every write the CRM
answered OK and the notifications the run should have made (load/verify.py), and writes the report into load/reports/<time>/: Locust's CSV files
(load_stats.csv, load_failures.csv, load_stats_history.csv), summary.md (requests/s,
p50/p95/p99 per operation, failures by reason, the read-back) and the people it made.
It exits 1 when a request failed, a write or a notification is missing or doubled, or the events
did not settle.
"""

import argparse
import csv
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("KILANG_CI_CACHE", Path.home() / ".cache" / "kilang-crm"))
REQUIREMENTS = ROOT / "load" / "requirements.txt"


def say(text):
    print(f"==> {text}", file=sys.stderr, flush=True)


def install():
    """Locust and grpcio into the cache, once per requirements file."""
    stamp = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]
    target = CACHE / "load" / f"python-{stamp}"
    if not (target / ".complete").exists():
        say(f"installing {', '.join(REQUIREMENTS.read_text().split())} into {target} (once)")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "--target", str(target), "-r", str(REQUIREMENTS)], check=True)
        (target / ".complete").touch()
    return target


def stubs(python_path):
    """gRPC stubs for Python from proto/, regenerated when a contract changes."""
    protos = sorted(p.relative_to(ROOT / "proto") for p in (ROOT / "proto").rglob("*.proto"))
    digest = hashlib.sha256()
    for p in protos:
        digest.update(str(p).encode() + (ROOT / "proto" / p).read_bytes())
    out = CACHE / "load" / f"stubs-{digest.hexdigest()[:16]}"
    if not (out / ".complete").exists():
        say(f"generating gRPC stubs from {len(protos)} contracts into {out}")
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'proto'}",
                        f"--python_out={out}", f"--grpc_python_out={out}", *map(str, protos)],
                       check=True, env={**os.environ, "PYTHONPATH": str(python_path)})
        (out / ".complete").touch()
    return out


def cluster_state():
    state = Path(os.environ.get("KILANG_CLUSTER_DIR", CACHE / "cluster")) / "state.json"
    if not state.exists():
        return None
    return {**json.loads(state.read_text()), "dir": str(state.parent)}


def cluster_edges():
    state = cluster_state()
    return [f"http://{e}" for e in (state or {}).get("edges") or []]


def run_faults(chaos, report, faults):
    """The fault schedule, seconds after the people are made (accounts.json appears), each a
    `deploy/cluster/cluster.py` action run from here (Locust's process holds gRPC's threads and
    must not fork)."""
    while not (report / "accounts.json").exists():
        if (report / "setup-failed.txt").exists():
            return
        time.sleep(0.1)
    began = time.monotonic()
    for step in [s.strip() for s in chaos.split(";") if s.strip()]:
        at, action = step.split(None, 1)
        time.sleep(max(0.0, float(at) - (time.monotonic() - began)))
        say(f"fault at {at} s: {action}")
        fault = {"fault": action, "at": float(at), "time": time.time()}
        faults.append(fault)
        done = subprocess.run([sys.executable, str(ROOT / "deploy" / "cluster" / "cluster.py"), *action.split()],
                              capture_output=True, text=True)
        if done.returncode != 0:
            say(f"`{action}` failed: {done.stderr.strip()[-1000:]}")
            fault["error"] = done.stderr.strip()[-1000:]


def write_faults(report, faults):
    """faults.json: per fault, the failures callers saw until the next one, and when the last came."""
    failures = json.loads((report / "failures.json").read_text()) if (report / "failures.json").exists() else []
    windows = [{"fault": "before any fault", "at": 0.0, "time": 0.0}] + faults
    out = []
    for i, window in enumerate(windows):
        until = windows[i + 1]["time"] if i + 1 < len(windows) else float("inf")
        seen = [f for f in failures if window["time"] <= f["time"] < until]
        reasons = {}
        for f in seen:
            reasons[f["reason"]] = reasons.get(f["reason"], 0) + 1
        last = max((f["time"] for f in seen), default=None)
        out.append({"fault": window["fault"], "at": window["at"], "failures": reasons,
                    "last_failure": round(last - window["time"], 1) if last and window["time"] else None,
                    **({"error": window["error"]} if window.get("error") else {})})
    (report / "faults.json").write_text(json.dumps(out, indent=1))


def number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def summary(report, verified):
    """summary.md from Locust's CSV files and the read-back, also printed."""
    rows = list(csv.DictReader(open(report / "load_stats.csv")))
    failures = list(csv.DictReader(open(report / "load_failures.csv"))) if (report / "load_failures.csv").exists() else []
    lines = ["| operation | requests | req/s | p50 ms | p95 ms | p99 ms | failures |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    total = None
    for row in rows:
        line = (f"| {row['Name']} | {row['Request Count']} | {number(row['Requests/s']):.1f} | "
                f"{row['50%']} | {row['95%']} | {row['99%']} | {row['Failure Count']} |")
        if row["Name"] == "Aggregated":
            total = row
        else:
            lines.append(line)
    if total:
        lines.append(f"| **all** | {total['Request Count']} | {number(total['Requests/s']):.1f} | "
                     f"{total['50%']} | {total['95%']} | {total['99%']} | {total['Failure Count']} |")
    lines.append("")
    if failures:
        lines += ["Failures by reason:", "", "| operation | reason | count |", "|---|---|---:|"]
        for f in sorted(failures, key=lambda f: -int(f["Occurrences"])):
            lines.append(f"| {f['Name']} | {f['Error'][:160]} | {f['Occurrences']} |")
    else:
        lines.append("Failures: none.")
    faults = report / "faults.json"
    if faults.exists():
        lines += ["", "Faults (each window runs until the next fault):", "",
                  "| at s | fault | failed requests after it | last failure, s after it | reasons |",
                  "|---:|---|---:|---:|---|"]
        for f in json.loads(faults.read_text()):
            reasons = "; ".join(f"{count}× {reason}" for reason, count in
                                sorted(f["failures"].items(), key=lambda r: -r[1])[:4]) or "none"
            if f.get("error"):
                reasons += f" (the fault itself failed: {f['error'][:200]})"
            lines.append(f"| {f['at']:.0f} | {f['fault']} | {sum(f['failures'].values())} | "
                         f"{f['last_failure'] if f['last_failure'] is not None else '-'} | {reasons} |")
    lines += ["", "Read back through the API after the load:", ""]
    lines += [f"- {line}" for line in verified["lines"]]
    text = "\n".join(lines) + "\n"
    (report / "summary.md").write_text(text)
    print(text, flush=True)
    return int(total["Failure Count"]) if total else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", help="one edge, e.g. http://127.0.0.1:50051 (default: every edge of `just cluster up`, the people spread over them)")
    parser.add_argument("--users", type=int, default=50, help="simulated people at once (default 50)")
    parser.add_argument("--spawn-rate", type=float, default=10, help="people started a second (default 10)")
    parser.add_argument("--duration", default="2m", help="how long, e.g. 90s, 2m, 10m (default 2m)")
    parser.add_argument("--tenants", type=int,
                        help="tenants made for the run (default: one per 12 people, at least 2)")
    parser.add_argument("--reps", type=int, default=6, help="reps per tenant (default 6)")
    parser.add_argument("--report", help="report directory (default load/reports/<time>)")
    parser.add_argument("--stop-timeout", default="70", help="seconds the people get to finish what they "
                        "do when the time is up (default 70: a held notification stream ends by itself)")
    parser.add_argument("--chaos", default="", help="faults on a schedule, seconds after the people are made: "
                        "\"30 kill customer-1; 45 start customer-1; 60 restart kafka-0\" "
                        "(actions of deploy/cluster/cluster.py)")
    args = parser.parse_args()

    args.tenants = args.tenants or max(2, args.users // 12)
    edges = [] if args.host else cluster_edges()
    host = args.host or (edges[0] if edges else None)
    if not host:
        sys.exit("load: no --host given and no cluster is up (`just cluster up`, or --host http://ADDR)")
    python_path = install()
    stub_path = stubs(python_path)
    report = Path(args.report or ROOT / "load" / "reports" / time.strftime("%Y%m%d-%H%M%S"))
    report.mkdir(parents=True, exist_ok=True)
    for old in ("writes.jsonl", "faults.json", "accounts.json", "verify.json", "summary.md", "setup-failed.txt",
                "cpu.json", "failures.json", "readback.json"):
        (report / old).unlink(missing_ok=True)  # a report directory used again holds this run only
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(python_path), str(stub_path)]),
           "LOAD_STUBS": str(stub_path), "LOAD_REPORT": str(report), "LOAD_TENANTS": str(args.tenants),
           "LOAD_REPS": str(args.reps), "LOAD_EDGES": ",".join(edges)}
    say(f"{args.users} people for {args.duration} against {', '.join(edges) or host}; report in {report}")
    faults = []
    schedule = threading.Thread(target=run_faults, args=(args.chaos, report, faults), daemon=True)
    if args.chaos:
        schedule.start()
    locust = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "load" / "locustfile.py"), "--headless",
         "--host", host, "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
         "--run-time", args.duration, "--stop-timeout", args.stop_timeout, "--csv", str(report / "load"),
         "--csv-full-history", "--loglevel", "WARNING"], env=env)
    if args.chaos:
        schedule.join(timeout=1)
        write_faults(report, faults)
    if (report / "setup-failed.txt").exists():
        sys.exit(f"load: the tenants could not be made, so nothing ran: {(report / 'setup-failed.txt').read_text().strip()}")
    if not (report / "load_stats.csv").exists():
        sys.exit(f"load: Locust ended ({locust.returncode}) without a report")
    sys.path.insert(0, str(ROOT / "load"))
    sys.path.insert(0, str(python_path))
    import verify
    state = cluster_state() if not args.host else None
    contexts = ("iam", "customer", "sales", "notification", "edge")
    addresses = ([p["addr"] for p in state["processes"] if p["target"] in contexts and p.get("addr")]
                 if state else [host.split("://")[-1]])
    say("waiting for the outboxes to drain and the consumers to catch up (at most 60 s)")
    settled = verify.settle(addresses)
    say("reading back every acknowledged write through the API")
    verified = verify.verify(host, report)
    maildir = Path(state["dir"]) / "mail" if state and state.get("dir") else None
    noticed = verify.notifications(host, report, maildir)
    verified = {"checked": verified["checked"] + noticed["checked"],
                "missing": verified["missing"] + noticed["missing"] + settled["left"],
                "lines": verified["lines"] + noticed["lines"] + settled["lines"]}
    (report / "readback.json").write_text(json.dumps(verified, indent=1))
    failed = summary(report, verified)
    say(f"report: {report}")
    if failed or verified["missing"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
