#!/usr/bin/env python3
"""Runs the walkthroughs of the README and the guides as written and checks what they print.

The walkthrough is README.md, then every guide of its table of guides (the rows that start with a
link under docs/), in the table's order. Every ```console block of those files is a walkthrough step: lines starting with `$ ` are commands
(a line ending in `\\` continues on the next), the lines after a command are what it prints. All
blocks run in order in one bash session (so variables set by one command are there for the next),
in a fresh working directory, against a freshly started `crm serve` on 127.0.0.1:50051 whose
`./data` is that directory's, with the `crm` binary on PATH: exactly what a newcomer has after the
README's first command.

Matching: each printed line must equal the shown one, except that `[..]` in a shown line matches
any text and a shown line `...` matches any number of lines. A command shown without output must
print nothing (so an error it prints is never let through). Any command that exits non-zero
fails the check.

Usage: .ci/walkthrough.py [FILE.md ...]   (default: the README and its guides, in order;
the `crm` binary: $WALKTHROUGH_CRM, else `crm` on PATH)
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ADDRESS = "127.0.0.1:50051"


def parse(readme: str):
    """The (command, expected lines, README line number) of every console block, in order."""
    steps = []
    in_block = False
    lines = readme.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not in_block:
            in_block = line.strip() == "```console"
            i += 1
            continue
        if line.strip() == "```":
            in_block = False
            i += 1
            continue
        if line.startswith("$ "):
            start = i + 1
            command = [line[2:]]
            while command[-1].endswith("\\") and i + 1 < len(lines):
                i += 1
                command.append(lines[i])
            steps.append(["\n".join(command), [], start])
        elif steps:
            steps[-1][1].append(line)
        i += 1
    return steps


def matches(expected, actual):
    """Whether `actual` lines match `expected` lines (`...` lines, `[..]` wildcards)."""
    if not expected:
        return not actual
    if expected[0] == "...":
        rest = expected[1:]
        return any(matches(rest, actual[k:]) for k in range(len(actual) + 1))
    if not actual:
        return False
    pattern = "^" + ".*".join(re.escape(part) for part in expected[0].split("[..]")) + "$"
    return re.match(pattern, actual[0].rstrip()) is not None and matches(expected[1:], actual[1:])


def start_crm(crm: str, workdir: Path):
    # A newcomer's environment: no backend URLs, no CRM_ settings.
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "KAFKA_BROKERS", "MONGODB_URL")
           and not k.startswith("CRM_")}
    server = subprocess.Popen(
        [crm, "serve"], cwd=workdir, env=env, stdout=subprocess.PIPE,
        stderr=open(workdir / "crm.log", "w"), text=True,
    )
    ready = server.stdout.readline()
    if not ready.startswith("crm serving"):
        server.kill()
        sys.exit(f"crm serve did not start (is {ADDRESS} free?):\n"
                 + (workdir / "crm.log").read_text())
    print(f"walkthrough: {ready.strip()} (in {workdir})")
    return server, env


def walkthrough_files():
    """README.md, then the guides of its table, in the table's order."""
    readme = Path("README.md")
    files = [readme]
    for row in readme.read_text().splitlines():
        found = re.match(r"^\| \[[^]]*\]\((docs/[A-Za-z0-9_.-]+\.md)\)", row)
        if found and Path(found.group(1)) not in files:
            files.append(Path(found.group(1)))
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        sys.exit(f"the README links guides that do not exist: {', '.join(missing)}")
    return files


def main():
    files = [Path(a) for a in sys.argv[1:]] or walkthrough_files()
    steps = []
    for path in files:
        steps += [(command, expected, f"{path}:{line}") for command, expected, line in parse(path.read_text())]
    if not steps:
        sys.exit(f"no ```console blocks in {', '.join(map(str, files))}")
    print("walkthrough: " + " → ".join(map(str, files)))
    crm = os.environ.get("WALKTHROUGH_CRM") or shutil.which("crm")
    if not crm:
        sys.exit("no crm binary: set WALKTHROUGH_CRM or put crm on PATH")
    crm = str(Path(crm).resolve())
    for tool in ("buf", "jq"):
        if not shutil.which(tool):
            sys.exit(f"the walkthrough needs `{tool}` on PATH")

    workdir = Path(tempfile.mkdtemp(prefix="crm-walkthrough-"))
    outdir = workdir / ".out"
    outdir.mkdir()
    server, env = start_crm(crm, workdir)
    env["PATH"] = str(Path(crm).parent) + os.pathsep + env["PATH"]
    script = ["cd " + str(workdir)]
    for n, (command, _, _) in enumerate(steps):
        script.append(f"{{\n{command}\n}} > {outdir}/{n} 2>&1; echo $? > {outdir}/{n}.rc")
    try:
        subprocess.run(["bash", "-c", "\n".join(script)], cwd=workdir, env=env, check=False,
                       timeout=600)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)

    failed = 0
    for n, (command, expected, line) in enumerate(steps):
        out_file, rc_file = outdir / str(n), outdir / f"{n}.rc"
        if not rc_file.exists():
            print(f"✗ {line}: did not run: {command}")
            failed += 1
            continue
        rc = int(rc_file.read_text().strip() or 1)
        actual = out_file.read_text().splitlines()
        while expected and expected[-1].strip() == "":
            expected = expected[:-1]
        ok = rc == 0 and matches(expected, actual)
        print(("✓" if ok else "✗") + f" {line}: {command.splitlines()[0][:100]}")
        if not ok:
            failed += 1
            print(f"    exit code {rc}")
            print("    shown in the guide:")
            print("\n".join("      | " + e for e in expected) or "      (nothing)")
            print("    printed:")
            print("\n".join("      | " + a for a in actual) or "      (nothing)")
    print(f"walkthrough: {len(steps) - failed} of {len(steps)} commands ran as shown")
    if server.returncode != 0:
        print(f"crm serve exited with {server.returncode} after SIGTERM")
        failed += 1
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
