"""Write the table of this `make bench` (build/bench/results.jsonl, appended by bench/harness.py `record`)
into docs/performance.md, between its markers, replacing the previous one; the rest of the page is kept.

    python bench/table.py            # the last step of make bench
"""
from __future__ import annotations

import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from bench.harness import RESULTS  # noqa: E402

DOC = os.path.join(REPO, "docs", "performance.md")
BEGIN, END = "<!-- make bench writes from here -->", "<!-- to here -->"


def render(rows: list[dict]) -> str:
    """The table: one line per figure, the machine and the commit above it."""
    if not rows:
        raise SystemExit(f"{RESULTS}: no figures; run make bench")
    machines = sorted({r["cpu"] for r in rows})
    commits = sorted({r["commit"] for r in rows})
    head = (f"`make bench` of {rows[0]['time']} to {rows[-1]['time']}, commit {', '.join(commits)}, on "
            f"{'; '.join(machines)} (written by bench/table.py):\n\n| bench | figure | goal |\n| --- | --- | --- |\n")
    cell = lambda s: s.replace("|", "\\|").replace("\n", " ")  # noqa: E731
    return head + "".join(f"| `bench/{r['bench']}` | {cell(r['figure'])} | {cell(r['goal'])} |\n" for r in rows)


def replace(doc: str, table: str) -> str:
    if doc.count(BEGIN) != 1 or doc.count(END) != 1 or doc.index(BEGIN) > doc.index(END):
        raise SystemExit(f"{DOC}: expected one '{BEGIN}' before one '{END}'")
    return doc[:doc.index(BEGIN) + len(BEGIN)] + "\n" + table + doc[doc.index(END):]


def main() -> int:
    with open(RESULTS) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    with open(DOC) as f:
        doc = f.read()
    with open(DOC, "w") as f:
        f.write(replace(doc, render(rows)))
    print(f"{DOC}: {len(rows)} figures written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
