#!/usr/bin/env python3
"""`just soak`: a long load on the cluster with faults on a schedule, memory watched, then the read-back.

    python3 load/soak.py --users 360 --duration 10m   # 80% of the cluster's capacity here
    python3 load/soak.py --users 360 --duration 30m   # the faults in the first 10 min, then quiet

Runs load/run.py (the sales team's day) against `just cluster up` for --duration with the fault
schedule below, samples every cluster process's resident memory (RSS, from /proc) and the
PostgreSQL connections of the cluster's database every 10 s into rss.csv, and reports, per
process, the RSS slope over the run's last 8 minutes (least squares, MB per minute; a slope of
1 MB/min or more is called out as a possible leak) and the connections' range. The faults, in
the first ten minutes (so a longer run's last minutes show memory without them):
a customer process killed and started again, a sales process killed while conversions are in
flight and started again, an edge killed and started again, the broker stopped for 30 s, Redis
stopped for 10 s, the CRM's PostgreSQL database cut for 10 s (its connections ended, new ones
refused). Exits 1 when callers saw more than each fault may cost (a store out of reach, the
database or Redis, may fail calls for its duration and 2 s after; a process killed, the calls in
flight on it: failures within 2 s of the kill; anything else, nothing), an acknowledged write or a
notification was lost or doubled, the events did not settle within 60 s, or a slope is over the
line.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("KILANG_CI_CACHE", Path.home() / ".cache" / "kilang-crm"))
LEAK_MB_PER_MIN = 1.0


def seconds(text):
    text = text.strip()
    return float(text[:-1]) * 60 if text.endswith("m") else float(text.rstrip("s"))


def schedule(total):
    """The faults, spread over the run's first ten minutes (its middle, when it is shorter), so
    that each one's recovery is seen and a longer run ends with a quiet stretch whose memory
    slope says growth from warm-up."""
    span = min(total, 600)
    at = lambda share: round(span * share)  # noqa: E731
    return "; ".join([
        f"{at(0.15)} kill customer-0", f"{at(0.15) + 15} start customer-0",
        f"{at(0.30)} kill sales-0", f"{at(0.30) + 10} start sales-0",
        f"{at(0.45)} kill edge-1", f"{at(0.45) + 10} start edge-1",
        f"{at(0.60)} stop kafka-0", f"{at(0.60) + 30} start kafka-0",
        f"{at(0.70)} stop-redis", f"{at(0.70) + 10} start-redis",
        f"{at(0.80)} cut-postgres", f"{at(0.80) + 10} restore-postgres",
    ])


def rss_mb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def connections(database):
    done = subprocess.run(["psql", "-X", "-At", "postgres://postgres@127.0.0.1:5432/postgres", "-c",
                           f"select count(*) from pg_stat_activity where datname = '{database}'"],
                          capture_output=True, text=True)
    return int(done.stdout.strip() or 0)


def slope(points):
    """Least-squares slope of (minutes, MB)."""
    n = len(points)
    if n < 3:
        return None
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    den = sum((p[0] - mx) ** 2 for p in points)
    return sum((p[0] - mx) * (p[1] - my) for p in points) / den if den else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=360, help="simulated people (default 360: 80%% of the "
                        "450 the cluster carries on a two-core machine, release build)")
    parser.add_argument("--duration", default="10m")
    args = parser.parse_args()
    state_file = Path(os.environ.get("KILANG_CLUSTER_DIR", CACHE / "cluster")) / "state.json"
    if not state_file.exists():
        sys.exit("soak: no cluster is up (`just cluster up`)")
    total = seconds(args.duration)
    report = ROOT / "load" / "reports" / f"soak-{time.strftime('%Y%m%d-%H%M%S')}"
    report.mkdir(parents=True)
    samples, done = [], threading.Event()

    def sample():
        began = time.monotonic()
        while not done.is_set():
            state = json.loads(state_file.read_text())
            row = {"minute": round((time.monotonic() - began) / 60, 3),
                   "connections": connections("crm_cluster")}
            for p in state["processes"]:
                if p.get("pid"):
                    row[f"{p['target']}-{p['replica']}"] = rss_mb(p["pid"])
            samples.append(row)
            done.wait(10)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    chaos = schedule(total)
    print(f"soak: {args.users} people for {args.duration}; faults: {chaos}", flush=True)
    subprocess.run([sys.executable, str(ROOT / "load" / "run.py"), "--users", str(args.users),
                           "--duration", args.duration, "--report", str(report), "--chaos", chaos])
    done.set()
    sampler.join()

    names = sorted({k for row in samples for k in row if k not in ("minute", "connections")})
    with open(report / "rss.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["minute", "connections", *names])
        writer.writeheader()
        writer.writerows(samples)
    end = samples[-1]["minute"] if samples else 0
    window = max(0.0, end - 8)
    lines = ["| process | RSS first, MB | RSS last, MB | slope over the last 8 min, MB/min |", "|---|---:|---:|---:|"]
    leaks = []
    for name in names:
        # A process started again restarts its memory: its slope is taken from its last start.
        series = [(row["minute"], row[name]) for row in samples if row.get(name) is not None]
        restart = 0
        for i in range(1, len(series)):
            if series[i][1] < series[i - 1][1] * 0.5:
                restart = i
        tail = [p for p in series[restart:] if p[0] >= window]
        s = slope(tail)
        if s is not None and s >= LEAK_MB_PER_MIN:
            leaks.append(name)
        lines.append(f"| {name} | {series[0][1]:.1f} | {series[-1][1]:.1f} | "
                     f"{'-' if s is None else f'{s:+.2f}'}{' (over the line)' if name in leaks else ''} |")
    # What callers saw. A store out of reach (the database cut, Redis stopped) fails the calls
    # that need it for as long as it is out, and for 2 s after it is back; a process killed costs
    # at most the calls in flight on it (failures within 2 s of the kill); the broker stopped and
    # everything else, nothing.
    faults = json.loads((report / "faults.json").read_text()) if (report / "faults.json").exists() else []
    unexpected = []
    for f in faults:
        count = sum(f["failures"].values())
        last = f["last_failure"] or 0
        if not count or f["fault"] in ("cut-postgres", "stop-redis"):
            continue
        if f["fault"] in ("restore-postgres", "start-redis") and last <= 2:
            continue
        if f["fault"].startswith("kill ") and last <= 2:
            continue
        unexpected.append(f"{count} failed requests after `{f['fault']}` (the last {last} s after it)")
    readback = json.loads((report / "readback.json").read_text()) if (report / "readback.json").exists() else None
    if readback is None:
        unexpected.append("no read-back: the load did not finish")
    elif readback["missing"]:
        unexpected.append(f"{readback['missing']} problems in the read-back (summary.md lists them)")
    conns = [row["connections"] for row in samples]
    lines += ["", f"PostgreSQL connections of crm_cluster: {min(conns)}–{max(conns)} over the run" if conns else ""]
    text = "\n".join(lines) + "\n"
    (report / "memory.md").write_text(text)
    print(text, flush=True)
    for problem in unexpected:
        print(f"soak: {problem}", flush=True)
    print(f"soak: report in {report}", flush=True)
    if unexpected or leaks:
        sys.exit(1)


if __name__ == "__main__":
    main()
