"""Render the run report: one self-contained HTML page (no scripts, no external assets)."""
from __future__ import annotations

import html

CSS = """body{font:14px system-ui,sans-serif;margin:2em auto;max-width:960px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f3f3f3}.ok{color:#0a0;font-weight:bold}.bad{color:#c00;font-weight:bold}
.warn{background:#fff3cd;border:1px solid #e0c060;padding:8px}.bar{background:#4a7;height:12px}
td.num{text-align:right;font-variant-numeric:tabular-nums}"""


def _e(x) -> str:
    return html.escape(str(x))


def _table(headers, rows) -> str:
    head = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in headers) + "</tr>" if headers else ""
    body = "".join("<tr>" + "".join(cell for cell in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def _num(x, fmt="{:.4f}") -> str:
    return f'<td class="num">{"" if x is None else fmt.format(x)}</td>'


def _slice_rows(slices, class_names):
    rows = []
    for s in slices:
        label = s["slice"]
        if s["feature"] == "label" and class_names:
            label += f" ({class_names[int(s['value'])]})"
        width = int(300 * (s["accuracy"] or 0))
        rows.append([f"<td>{_e(label)}</td>", _num(s["count"], "{:d}"), _num(s["accuracy"]),
                     f'<td><div class="bar" style="width:{width}px"></div></td>'])
    return rows


def render_html(metrics: dict) -> str:
    """metrics: the dict written as metrics.json (run facts, evaluation, blessing, timings)."""
    ev, src = metrics["evaluation"], metrics["source"]
    verdict = ('<span class="ok">BLESSED</span>' if ev["blessed"]
               else '<span class="bad">NOT BLESSED</span>: ' + _e("; ".join(ev["blessing_reasons"])))
    warn = f'<p class="warn">Data: {_e(src["note"])}</p>' if src.get("note") else ""
    facts = [("run", metrics["run_id"]), ("dataset", src["dataset"]), ("data source", f'{src["kind"]}: {src["location"]}'),
             ("evaluated split", ev["split"] + (f' ({ev["split_note"]})' if ev.get("split_note") else "")),
             ("examples evaluated", ev["examples"]), ("accuracy", f'{ev["accuracy"]:.4f}'),
             ("threshold", f'accuracy >= {ev["min_accuracy"]}')]
    fact_rows = [[f"<th>{_e(k)}</th>", f"<td>{_e(v)}</td>"] for k, v in facts]
    cached = metrics.get("cached", {})
    timing_rows = [[f"<td>{_e(k)}</td>", _num(v, "{:.1f}"),
                    f"<td>{_e('cached from run ' + cached[k]) if k in cached else 'ran'}</td>"]
                   for k, v in metrics["timings_s"].items()]
    config_rows = [[f"<td>{_e(k)}</td>", f"<td>{_e(v)}</td>"] for k, v in metrics["config_flat"].items()]
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Run {_e(metrics['run_id'])}</title>
<style>{CSS}</style></head><body>
<h1>MNIST LSTM pipeline: run {_e(metrics['run_id'])}</h1>{warn}
<h2>Verdict: {verdict}</h2>
{_table(None, fact_rows)}
<h2>Accuracy per slice</h2>
{_table(["slice", "examples", "accuracy", ""], _slice_rows(ev["slices"], src.get("class_names")))}
<h2>Component wall time (s)</h2>
{_table(["component", "seconds", ""], timing_rows)}
<h2>Configuration</h2>
{_table(["key", "value"], config_rows)}
</body></html>"""
