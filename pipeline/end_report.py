"""The report of a run that failed or stopped, beside its summary.json: `runs/<run>/report.html`, one
self-contained page that says why it ended, how far each step got, what a stopping step said (the
anomalies), and the evidence the steps kept (`runs/<run>/evidence/<step>/`, e.g. the malformed inputs by
name). A run that finishes has the report step's page instead.

    python -m pipeline run ...; open pipeline_root/runs/<run>/report.html   # after a failure
"""
from __future__ import annotations

import html
import logging

from pipeline import artifacts as af
from pipeline import fs

log = logging.getLogger(__name__)
SHOWN_LINES = 50   # of each evidence file; the file itself holds everything
CSS = ("body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}"
       "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}.bad{color:#b00;font-weight:bold}"
       "pre{background:#f6f6f6;padding:.6em;white-space:pre-wrap}")


def _e(x) -> str:
    return html.escape("" if x is None else str(x))


def _evidence(run_dir: str) -> list[tuple[str, list[str], int]]:
    """(path, first lines, line count) of every file the steps kept under <run>/evidence/."""
    root, found = fs.join(run_dir, "evidence"), []
    if not fs.exists(root):
        return found
    for rel, _ in fs.walk_files(root):
        path = fs.join(root, rel)
        shown, count = [], 0
        with fs.open_file(path) as f:   # a list of a million malformed inputs is counted, not held
            for count, line in enumerate(f, 1):
                if count <= SHOWN_LINES:
                    shown.append(line.rstrip("\n"))
        found.append((path, shown, count))
    return found


def render(summary: dict, run_dir: str) -> str:
    status = summary.get("status", "?")
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td{' class=bad' if c.get('status') in ('failed', 'running') else ''}>"
        f"{_e(c.get('status'))}</td><td>{_e(c.get('seconds', ''))}</td>"
        f"<td>{_e(c.get('headline', ''))}</td></tr>"
        for name, c in (summary.get("components") or {}).items())
    reasons = "".join(f"<h2>{_e(name)} stopped the run</h2><pre>{_e(c['facts']['stop_reason'])}</pre>"
                      for name, c in (summary.get("components") or {}).items()
                      if (c.get("facts") or {}).get("stop_reason"))
    kept = "".join(f"<h3><code>{_e(path)}</code> ({n} lines{', the first ' + str(len(lines)) if n > len(lines) else ''})"
                   f"</h3><pre>{_e(chr(10).join(lines))}</pre>" for path, lines, n in _evidence(run_dir))
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Run {_e(summary.get("run_id"))}: {_e(status)}'
            f'</title><style>{CSS}</style></head><body><h1>Run {_e(summary.get("run_id"))}: '
            f'<span class="bad">{_e(status.upper())}</span></h1><p>{_e(summary.get("error"))}</p>'
            f'<table><tr><th>step</th><th>status</th><th>seconds</th><th>what it did</th></tr>{rows}</table>'
            f'{reasons}<h2>Evidence kept</h2>{kept or "<p>none: no step kept a file</p>"}'
            f'<p>The whole story is in the run\'s log; <code>summary.json</code> beside this page has the '
            f'same facts.</p></body></html>')


def write(summary: dict, run_dir: str) -> str | None:
    """Write runs/<run>/report.html; None (and a log line) if it cannot be written (a full disk). It runs
    while the run's own error propagates: nothing of its own may replace that error."""
    path = fs.join(run_dir, "report.html")
    try:
        af.write_text(path, render(summary, run_dir))
        return path
    except Exception as e:  # noqa: BLE001 - the run's error, not this page's, is what the user must see
        log.warning("could not write the report of the %s run: %s", summary.get("status"), e)
        return None
