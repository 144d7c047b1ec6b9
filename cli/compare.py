"""Compare two runs: `python -m pipeline compare RUN_A RUN_B` writes one self-contained HTML page and prints
a short table: configuration and data differences, metric and per-slice deltas with intervals, the
confusion-matrix difference, and the images whose predicted class changed (B's evaluated split, both models).

    python -m pipeline compare 20261127-101500-ab12 20261127-113000-cd34 [--output page.html]
"""
from __future__ import annotations

import base64
import html
import os

from components.report.charts import png_data_uri
from components.report.render import CSS, worst_first
from contract import artifacts as files
from pipeline import artifacts as af
from pipeline import fs

MAX_IMAGES = 40


def _e(x) -> str:
    return html.escape("" if x is None else str(x))


def load_run(root: str, run_id: str) -> dict:
    """A finished run's summary and the report's metrics (evaluation, data, config)."""
    path = fs.join(root, "runs", run_id, "summary.json")
    if not fs.exists(path):
        raise KeyError(run_id)
    summary = af.read_json(path)
    if summary.get("status") != "succeeded" or "report" not in (summary.get("artifacts") or {}):
        raise ValueError(f"run {run_id} has status {summary.get('status')!r}; only finished runs can be compared")
    # artifact paths are as the run saw its root (maybe relative to another folder): rebase them on this root
    then = (summary.get("config") or {}).get("pipeline", {}).get("root", root)
    summary["artifacts"] = {k: (root + v[len(then):] if v.startswith(then) and not os.path.exists(v) else v)
                            for k, v in summary["artifacts"].items()}
    report = os.path.dirname(summary["artifacts"]["report"])
    return {"summary": summary, "metrics": af.read_file(files.METRICS, report)}


def config_diff(a: dict, b: dict) -> list[tuple[str, str, str]]:
    fa, fb = a["metrics"]["config_flat"], b["metrics"]["config_flat"]
    return [(k, str(fa.get(k)), str(fb.get(k))) for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]


def tuned_values(a: dict, b: dict) -> list[tuple[str, str, str]]:
    """The trainer keys either run's tuner chose: (key, A's value, B's value), each the tuned value marked
    '(tuned)' or, where that run did not tune it, its configured value."""
    def values(r):
        best = (r["metrics"].get("tuning") or {}).get("best_hyperparameters", {}).get("values", {})
        return best, r["metrics"]["config_flat"]
    (ta, fa), (tb, fb) = values(a), values(b)
    show = lambda tuned, flat, k: f"{tuned[k]} (tuned)" if k in tuned else str(flat.get(f"trainer.{k}"))
    return [(k, show(ta, fa, k), show(tb, fb, k)) for k in sorted(set(ta) | set(tb))]


def slice_deltas(a: dict, b: dict) -> list[dict]:
    """Slices of both runs joined by name: accuracy, interval and count of each, and B - A; worst change first."""
    sa = {s["slice"]: s for s in a["metrics"]["evaluation"]["slices"]}
    rows = []
    for s in worst_first(b["metrics"]["evaluation"]["slices"]):
        other = sa.get(s["slice"])
        delta = (s["accuracy"] - other["accuracy"]) if other and None not in (s["accuracy"], other["accuracy"]) else None
        rows.append({"slice": s["slice"], "a": other and other["accuracy"], "a_ci": other and other.get("ci"),
                     "b": s["accuracy"], "b_ci": s.get("ci"), "delta": delta, "count_a": other and other["count"],
                     "count_b": s["count"]})
    rows.sort(key=lambda r: (r["slice"] != "overall", r["delta"] if r["delta"] is not None else 9, r["slice"]))
    return rows


def data_diff(a: dict, b: dict) -> dict:
    from components.validator.validate import drift
    sa, sb = a["metrics"]["data"]["statistics"], b["metrics"]["data"]["statistics"]
    labels = tuple(range(len(b["metrics"]["source"]["class_names"])))
    return {"sha256": (a["summary"]["source"].get("sha256"), b["summary"]["source"].get("sha256")),
            "records": (a["summary"].get("records"), b["summary"].get("records")),
            "drift": drift(sb, sa, labels) if a["summary"]["dataset"] == b["summary"]["dataset"] else {}}


def changed_predictions(a: dict, b: dict, limit: int = MAX_IMAGES) -> tuple[int, int, list[dict]]:
    """Both models on B's evaluated split: (examples, how many changed class, up to `limit` of them)."""
    if a["summary"]["dataset"] != b["summary"]["dataset"]:
        return 0, 0, []
    from components.evaluator.gallery import predictions
    examples, split = b["summary"]["artifacts"]["examples"], b["summary"]["metrics"]["split"]
    first = {i: int(p.argmax()) for i, _, _, p in predictions(a["summary"]["artifacts"]["model"], examples, split)}
    changed, n = [], 0
    for image_id, label, pixels, probs in predictions(b["summary"]["artifacts"]["model"], examples, split):
        n += 1
        now = int(probs.argmax())
        if image_id in first and first[image_id] != now:
            changed.append({"image_id": image_id, "label": label, "a": first[image_id], "b": now,
                            "pixels": base64.b64encode(pixels.tobytes()).decode()})
    return n, len(changed), changed[:limit]


def _ci(ci) -> str:
    return f"{ci[0]:.3f}-{ci[1]:.3f}" if ci else ""


def _digest(d, other=None) -> str:
    """A table cell with the first 16 hex digits (the whole digest on hover); B's says whether it changed."""
    if not d:
        return "<td></td>"
    note = "" if other is None else (" (same)" if d == other else ' <span class="bad">(changed)</span>')
    return f'<td><code title="{_e(d)}">{_e(d[:16])}</code>{note}</td>'


def _delta(x) -> str:
    return "" if x is None else f"{x:+.4f}"


def _acc(x) -> str:
    return "" if x is None else f"{x:.4f}"


def _confusion_diff(a: dict, b: dict, names: list[str]) -> str:
    ca, cb = a["metrics"]["evaluation"]["confusion"], b["metrics"]["evaluation"]["confusion"]
    if len(ca) != len(cb):
        return "<p>The runs have different classes.</p>"
    head = "".join(f'<th title="{_e(n)}">{i}</th>' for i, n in enumerate(names))
    rows = []
    for t in range(len(cb)):
        cells = []
        for p in range(len(cb)):
            d = cb[t][p] - ca[t][p]
            good = d > 0 if t == p else d < 0
            color = "" if d == 0 else f' style="background:{"#cfc" if good else "#fcc"}"'
            cells.append(f'<td class="num"{color}>{d:+d}</td>' if d else '<td class="num">0</td>')
        rows.append(f"<tr><th>{_e(names[t])}</th>{''.join(cells)}</tr>")
    return f'<table class="confusion-diff"><tr><th>true \\ predicted (B - A)</th>{head}</tr>{"".join(rows)}</table>'


def render(a: dict, b: dict, changed: tuple) -> str:
    ida, idb = a["summary"]["run_id"], b["summary"]["run_id"]
    names = list(b["metrics"]["source"]["class_names"])
    cfg = "".join(f"<tr><td>{_e(k)}</td><td>{_e(x)}</td><td>{_e(y)}</td></tr>" for k, x, y in config_diff(a, b))
    data = data_diff(a, b)
    tuned = "".join(f"<tr><td>trainer.{_e(k)}</td><td>{_e(x)}</td><td>{_e(y)}</td></tr>" for k, x, y in tuned_values(a, b))
    sums = "".join(f"<tr><td>sha256 {_e(k)}</td>{_digest((data['sha256'][0] or {}).get(k))}"
                   f"{_digest((data['sha256'][1] or {}).get(k), (data['sha256'][0] or {}).get(k))}</tr>"
                   for k in sorted(set(data["sha256"][0] or {}) | set(data["sha256"][1] or {})))
    recs = "".join(f"<tr><td>records {_e(k)}</td><td class=num>{_e((data['records'][0] or {}).get(k))}</td>"
                   f"<td class=num>{_e((data['records'][1] or {}).get(k))}</td></tr>"
                   for k in ("train", "eval", "test"))
    drift = "".join(f"<tr><td>drift {_e(s)}</td><td colspan=2>label {d['label']:.4f}, intensity {d['intensity']:.4f}"
                    f"</td></tr>" for s, d in data["drift"].items())
    slices = "".join(
        f'<tr class="slice"><td>{_e(r["slice"])}</td><td class=num>{_e(r["count_a"])}</td><td class=num>{_acc(r["a"])}</td>'
        f'<td class=num>{_ci(r["a_ci"])}</td><td class=num>{_e(r["count_b"])}</td><td class=num>{_acc(r["b"])}</td>'
        f'<td class=num>{_ci(r["b_ci"])}</td><td class="num {"down" if (r["delta"] or 0) < 0 else "up"}">'
        f'{_delta(r["delta"])}</td></tr>'
        for r in slice_deltas(a, b))
    n, k, shown = changed
    figs = "".join(f'<figure><img alt="{_e(c["image_id"])}" src="{png_data_uri(base64.b64decode(c["pixels"]))}">'
                   f'<figcaption>true {_e(names[c["label"]])}<br>A {_e(names[c["a"]])}, B {_e(names[c["b"]])}'
                   f'</figcaption></figure>' for c in shown)
    ea, eb = a["metrics"]["evaluation"], b["metrics"]["evaluation"]
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{_e(ida)} vs {_e(idb)}</title>
<style>{CSS}</style></head><body><h1>Run A {_e(ida)} vs run B {_e(idb)}</h1>
<table><tr><th></th><th>A {_e(ida)}</th><th>B {_e(idb)}</th></tr>
<tr><td>dataset</td><td>{_e(a["summary"]["dataset"])}</td><td>{_e(b["summary"]["dataset"])}</td></tr>
<tr><td>accuracy</td><td class=num>{_acc(ea["accuracy"])} ({_e(ea["split"])})</td><td class=num>{_acc(eb["accuracy"])} ({_e(eb["split"])})</td></tr>
<tr><td>blessed</td><td>{_e(ea["blessed"])}</td><td>{_e(eb["blessed"])}</td></tr></table>
<h2>Configuration differences</h2>{f'<table class="config-diff"><tr><th>key</th><th>A</th><th>B</th></tr>{cfg}</table>' if cfg else "<p>None.</p>"}
<h2>Tuned values</h2>{f'<table class="tuned"><tr><th>key</th><th>A</th><th>B</th></tr>{tuned}</table>' if tuned else "<p>Neither run tuned the trainer.</p>"}
<h2>Data</h2><table class="data-diff"><tr><th></th><th>A</th><th>B</th></tr>{sums}{recs}{drift}</table>
<h2>Accuracy per slice, B - A, worst change first</h2>
<table class="slice-deltas"><tr><th>slice</th><th>A n</th><th>A accuracy</th><th>A 95%</th><th>B n</th><th>B accuracy</th><th>B 95%</th><th>change</th></tr>{slices}</table>
<h2>Confusion matrix, B - A</h2>{_confusion_diff(a, b, names)}
<h2>Images whose predicted class changed</h2><p>{k} of {n} images of B's {_e(eb["split"])} split; {len(shown)} shown.</p>
<div class="gallery">{figs}</div></body></html>"""


def why_not_comparable(a: dict, b: dict) -> str | None:
    """Why subtracting B's numbers from A's would mean nothing: another dataset, other classes (confusion
    matrices of different classes), or another evaluated split. None when they compare."""
    da, db = (r["metrics"]["config_flat"].get("data.dataset") for r in (a, b))
    ca, cb = (r["metrics"]["source"]["class_names"] for r in (a, b))
    sa, sb = (r["metrics"]["evaluation"]["split"] for r in (a, b))
    if da != db:
        return f"A is of dataset {da!r}, B of {db!r}"
    if list(ca) != list(cb):
        return f"their classes differ (A: {len(ca)}, {', '.join(map(str, ca[:3]))}, ...; B: {len(cb)}, " \
               f"{', '.join(map(str, cb[:3]))}, ...)"
    if sa != sb:
        return f"A was evaluated on its {sa} split, B on its {sb} split"
    return None


def compare(root: str, run_a: str, run_b: str, output: str | None = None,
            allow_different: bool = False) -> tuple[str, str]:
    """Write the page; return (its path, a short text table for the console). Runs that do not compare
    (why_not_comparable) are refused unless allow_different."""
    a, b = load_run(root, run_a), load_run(root, run_b)
    reason = why_not_comparable(a, b)
    if reason and not allow_different:
        raise ValueError(f"runs {run_a} and {run_b} do not compare: {reason} (--allow-different compares them anyway)")
    changed = changed_predictions(a, b)
    path = output or fs.join(root, "compare", f"{run_a}_vs_{run_b}.html")
    af.write_text(path, render(a, b, changed))
    deltas = [r for r in slice_deltas(a, b) if r["delta"] is not None]
    lines = [f"{'':<28}{'A':>8}{'B':>8}{'B-A':>9}"]
    for r in deltas[:1] + [r for r in deltas[1:] if r["slice"] != "overall"][:5]:
        lines.append(f"{r['slice'][:27]:<28}{r['a']:8.4f}{r['b']:8.4f}{r['delta']:+9.4f}")
    lines.append(f"config differences: {len(config_diff(a, b))}; predictions changed: {changed[1]} of {changed[0]}")
    lines += [f"tuned trainer.{k}: A {x}, B {y}" for k, x, y in tuned_values(a, b)]
    lines.append(f"page: {path}")
    return path, "\n".join(lines)
