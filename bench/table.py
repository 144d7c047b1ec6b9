"""Write the benchmarks' figures (build/bench/results.jsonl, appended by bench/harness.py `record`) into the
table of docs/performance.md, between its markers. Each bench's rows replace that bench's rows of the table
(the last record of each figure wins); the rows of benches that did not run stay as they were, each with
the date, commit and machine that measured it. `make bench`, `make bench-flink`, `make bench-pods` and
`make bench-tuner` end with it.

    python bench/table.py
"""
from __future__ import annotations

import json
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from bench.harness import RESULTS  # noqa: E402

DOC = os.path.join(REPO, "docs", "performance.md")
BEGIN, END = "<!-- make bench writes from here -->", "<!-- to here -->"
HEAD = ("Each row is the latest figure of its bench (bench/table.py), with when, at which commit and on which "
        "machine it was measured:\n\n| bench | figure | goal | measured |\n| --- | --- | --- | --- |\n")
cell = lambda s: s.replace("|", "\\|").replace("\n", " ")  # noqa: E731


def _key(bench: str, figure: str) -> tuple[str, str]:
    """A figure's identity across runs: its bench and its words, every number (and run id) left out."""
    return bench, re.sub(r"[-+]?\d[\d.,:-]*", "#", figure)


def _machine(cpu: str) -> str:
    model, _, rest = cpu.partition(";")
    return model.split()[0] + ((", " + rest.split("flags:")[-1].strip()) if "flags:" in rest else "")


def row(r: dict) -> str:
    measured = r.get("measured") or f"{r['time']}, {r['commit']}, {_machine(r['cpu'])}"
    return f"| `bench/{r['bench']}` | {cell(r['figure'])} | {cell(r['goal'])} | {measured} |\n"


def old_rows(table: str) -> list[dict]:
    """The rows already in the doc; a table of the earlier 3-column form gets its header's date and commit."""
    when = re.search(r"of (\d{4}-\d\d-\d\d \d\d:\d\d) to .*?, commit ([0-9a-f, ]+), on ([^(]+)", table)
    rows = []
    for line in table.splitlines():
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) in (3, 4) and cells[0].startswith("`bench/"):
            measured = cells[3] if len(cells) == 4 else (f"{when.group(1)}, {when.group(2).strip()}, "
                                                         f"{_machine(when.group(3))}" if when else "")
            rows.append({"bench": cells[0].strip("`")[len("bench/"):], "figure": cells[1], "goal": cells[2],
                         "measured": measured})
    return rows


def merge(old: list[dict], new: list[dict]) -> list[dict]:
    latest: dict = {}
    for r in new:
        latest[_key(r["bench"], r["figure"])] = r
    ran = {r["bench"] for r in new}
    out, placed = [], set()
    for r in old:
        if r["bench"] not in ran:
            out.append(r)
        elif r["bench"] not in placed:   # the bench's new rows where its old ones were
            out += [n for n in latest.values() if n["bench"] == r["bench"]]
            placed.add(r["bench"])
    out += [n for n in latest.values() if n["bench"] not in placed and n["bench"] in ran
            and not any(o is n for o in out)]
    return out


def replace(doc: str, rows: list[dict]) -> str:
    if doc.count(BEGIN) != 1 or doc.count(END) != 1 or doc.index(BEGIN) > doc.index(END):
        raise SystemExit(f"{DOC}: expected one '{BEGIN}' before one '{END}'")
    return doc[:doc.index(BEGIN) + len(BEGIN)] + "\n" + HEAD + "".join(map(row, rows)) + doc[doc.index(END):]


def main() -> int:
    with open(RESULTS) as f:
        new = [json.loads(line) for line in f if line.strip()]
    if not new:
        raise SystemExit(f"{RESULTS}: no figures; run make bench")
    with open(DOC) as f:
        doc = f.read()
    rows = merge(old_rows(doc[doc.index(BEGIN):doc.index(END)]), new)
    with open(DOC, "w") as f:
        f.write(replace(doc, rows))
    print(f"{DOC}: {len(rows)} figures ({len(new)} new records)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
