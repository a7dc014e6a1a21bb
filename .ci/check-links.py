#!/usr/bin/env python3
"""Checks the links of the README and the guides: every relative link names a file of the
repository (never outside it) and, with a #fragment, a heading of that file (GitHub's anchors).
Also refuses a README over 300 lines: the rest belongs in docs/.

Usage: .ci/check-links.py   (from the repository's root)
"""

import re
import sys
from pathlib import Path

ROOT = Path.cwd().resolve()
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def anchors(path: Path):
    """GitHub's anchors for the headings of a markdown file (duplicates get -1, -2...)."""
    seen = {}
    result = set()
    fence = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fence = not fence
        if fence or not re.match(r"^#{1,6} ", line):
            continue
        text = line.lstrip("#").strip()
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        result.add(slug if n == 0 else f"{slug}-{n}")
    return result


def main():
    files = [Path("README.md")] + sorted(Path("docs").glob("*.md"))
    problems = []
    for md in files:
        text = md.read_text()
        fence = False
        for number, line in enumerate(text.splitlines(), 1):
            if line.startswith("```"):
                fence = not fence
            if fence:
                continue
            for target in LINK.findall(line):
                if re.match(r"^[a-z]+:", target):
                    continue  # http(s), mailto: outside links are fine
                path, _, fragment = target.partition("#")
                file = (md.parent / path).resolve() if path else md.resolve()
                where = f"{md}:{number}: {target}"
                if ROOT not in file.parents and file != ROOT:
                    problems.append(f"{where} points outside the repository")
                elif not file.exists():
                    problems.append(f"{where} names no file")
                elif fragment and file.suffix == ".md" and fragment not in anchors(file):
                    problems.append(f"{where} names no heading of {file.relative_to(ROOT)}")
            if "../shared/" in line:
                problems.append(f"{md}:{number}: names ../shared/, which is outside the repository")
    lines = len(Path("README.md").read_text().splitlines())
    if lines > 300:
        problems.append(f"README.md has {lines} lines: keep it under 300 and move the rest to docs/")
    for problem in problems:
        print(problem)
    print(f"links: {len(files)} files checked, {len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
