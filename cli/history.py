"""Run history: `<root>/index.html`, every run of every dataset, rewritten (atomically) after every run.

    python -m pipeline runs          # the same list as text; the page is <root>/index.html
"""
from __future__ import annotations

import hashlib
import html
import os
import time

from components.report.charts import line_chart
from components.report.render import CSS
from pipeline import artifacts as af
from pipeline import fs


def _e(x) -> str:
    return html.escape("" if x is None else str(x))


def data_digest(source: dict | None) -> str:
    """One short digest of a run's input files (the raw data's content)."""
    sums = (source or {}).get("sha256") or {}
    return hashlib.sha256("".join(f"{k}:{v}\n" for k, v in sorted(sums.items())).encode()).hexdigest()[:12] if sums else ""


def run_rows(store, root: str) -> list[dict]:
    """One dict per run, oldest first: the store's record joined with the run's summary.json."""
    rows = []
    for r in store.runs():
        path = r.get("summary_path") or fs.join(root, "runs", r["run_id"], "summary.json")
        summary = af.read_json(path) if fs.exists(path) else {}
        src = summary.get("source") or {}
        pushed = summary.get("pushed") or {}
        report = (summary.get("artifacts") or {}).get("report")
        ended = fs.join(root, "runs", r["run_id"], "report.html")   # a failed or stopped run's (end_report.py)
        report = report or (ended if r["status"] in ("failed", "stopped") and fs.exists(ended) else None)
        rows.append({"run_id": r["run_id"], "dataset": r["dataset"], "started": r["started"], "status": r["status"],
                     "source": f"{src.get('kind', '')}: {src.get('location', '')}" if src else "",
                     "digest": data_digest(src), "accuracy": (summary.get("metrics") or {}).get("accuracy"),
                     "split": (summary.get("metrics") or {}).get("split"), "blessed": summary.get("blessed"),
                     "pushed": pushed.get("version") if pushed.get("pushed") else None,
                     "cached": summary.get("cached") or [], "report": report,
                     "profile": (summary.get("config") or {}).get("profile")})
    return rows


def render_index(rows: list[dict], root: str) -> str:
    series: dict = {}
    xs: dict = {}
    for i, r in enumerate(rows):   # one line per dataset and evaluated split: eval and test never mixed
        if r["accuracy"] is not None:
            key = f"{r['dataset']} ({r['split']})"
            series.setdefault(key, []).append(r["accuracy"])
            xs.setdefault(key, []).append(i)
    chart = line_chart(series, "accuracy of each finished run, per dataset and evaluated split (oldest first)",
                       width=700, x_label="run", xs=xs, x_count=len(rows), markers=True) if series else ""
    body = []
    for r in reversed(rows):   # newest first
        link = os.path.relpath(r["report"], root) if r["report"] and not fs.is_remote(r["report"]) else r["report"]
        acc = f"{r['accuracy']:.4f} ({_e(r['split'])})" if r["accuracy"] is not None else ""
        bless = {True: '<span class="ok">blessed</span>', False: '<span class="bad">not blessed</span>'}.get(r["blessed"], "")
        status = r["status"] if r["status"] == "succeeded" else f'<span class="bad">{_e(r["status"])}</span>'
        name = f'<a href="{_e(link)}">{_e(r["run_id"])}</a>' if link else _e(r["run_id"])
        profile = f' ({_e(r["profile"])})' if r["profile"] else ""
        body.append(f'<tr class="run"><td>{name}</td>'
                    f'<td>{_e(time.strftime("%Y-%m-%d %H:%M", time.localtime(r["started"])))}</td>'
                    f'<td>{_e(r["dataset"])}{profile}</td><td>{_e(r["source"])}</td><td><code>{_e(r["digest"])}</code></td>'
                    f'<td>{status}</td><td class="num">{acc}</td><td>{bless}</td><td>{_e(r["pushed"] or "")}</td>'
                    f'<td>{_e(", ".join(r["cached"]))}</td></tr>')
    head = "".join(f"<th>{h}</th>" for h in ("run (report)", "started", "dataset", "data source", "data digest",
                                             "status", "accuracy", "blessing", "pushed version", "cached steps"))
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Runs: {_e(root)}</title><style>{CSS}</style>'
            f'</head><body><h1>Runs of {_e(root)}</h1><p>{len(rows)} runs, newest first. Compare two with '
            f'<code>python -m pipeline compare RUN_A RUN_B</code>.</p><div id="accuracy-chart">{chart}</div>'
            f'<table class="runs"><tr>{head}</tr>{"".join(body)}</table></body></html>')


def write_index(store, root: str) -> str:
    """Rewrite <root>/index.html from the store; the new page replaces the old one in one rename."""
    path = fs.join(root, "index.html")
    af.write_text(path, render_index(run_rows(store, root), root))
    return path
