"""Render the run report: one self-contained HTML page (no scripts, no external assets)."""
from __future__ import annotations

import base64
import html

from components.report.charts import confusion_heatmap, interval_chart, line_chart, png_data_uri
from components.report.data_section import render_data
from components.report.tuning_section import render_tuning

CSS = """body{font:14px system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 7px;text-align:left}
th{background:#f3f3f3}.ok{color:#0a0;font-weight:bold}.bad{color:#c00;font-weight:bold}
.warn{background:#fff3cd;border:1px solid #e0c060;padding:8px}.bar{background:#4a7;height:11px}
td.num{text-align:right;font-variant-numeric:tabular-nums}.small{color:#a60}.down{color:#c00}.up{color:#080}
.gallery{display:flex;flex-wrap:wrap;gap:8px}.gallery figure{margin:0;width:92px;font-size:11px;text-align:center}
.gallery img{width:84px;height:84px;image-rendering:pixelated;border:1px solid #ccc}
table.confusion td{min-width:34px}.charts{display:flex;flex-wrap:wrap;gap:6px}"""


def _e(x) -> str:
    return html.escape(str(x))


def _table(headers, rows, cls="") -> str:
    head = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in headers) + "</tr>" if headers else ""
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return f'<table class="{cls}">{head}{body}</table>'


def _num(x, fmt="{:.4f}", cls="num") -> str:
    return f'<td class="{cls}">{"" if x is None else fmt.format(x)}</td>'


def _class(i: int, names) -> str:
    return names[i] if names[i] == str(i) else f"{i} {names[i]}"


def _slice_label(s, names) -> str:
    label = s["slice"]
    if list(s["features"]) == ["label"] and names:
        label += f" ({names[int(s['features']['label'])]})"
    return label


def worst_first(slices: list[dict]) -> list[dict]:
    """Overall first, then the slices by accuracy, lowest first (ties by name)."""
    rest = [s for s in slices if s["slice"] != "overall"]
    rest.sort(key=lambda s: (s["accuracy"] if s["accuracy"] is not None else 2.0, s["slice"]))
    return [s for s in slices if s["slice"] == "overall"] + rest


def _family(s) -> str:
    feats = list(s["features"])
    return " x ".join(feats) if feats else "overall"


def _short(s, names) -> str:
    """A slice's chart label: '6 (Shirt)' or '2' for one feature, 'Shirt, thickness 0' for a cross."""
    if len(s["features"]) == 1:
        return _slice_label(s, names).split("=", 1)[-1]
    return ", ".join(names[int(v)] if k == "label" and names else f"{k.replace('_bucket', '')} {v}"
                     for k, v in s["features"].items())


def slice_charts(ev, names) -> str:
    """A compact interval chart per slice family (label, each image property, label x property)."""
    families: dict = {}
    for s in ev["slices"]:
        if s["slice"] != "overall":
            families.setdefault(_family(s), []).append(s)
    lo = min((s["ci"][0] for s in ev["slices"] if s.get("ci")), default=0.0)
    charts = [interval_chart([(_short(s, names), s["accuracy"], s.get("ci")) for s in worst_first(rows)],
                             f"{fam}: accuracy, 95% interval (worst first)", fam, lo=lo)
              for fam, rows in families.items()]
    return '<div class="charts">' + "".join(charts) + "</div>"


def _slice_rows(ev, names):
    rows, min_size = [], ev["thresholds"]["min_slice_size"]
    for s in worst_first(ev["slices"]):
        small = s["count"] < min_size
        ci = f'{s["ci"][0]:.3f} - {s["ci"][1]:.3f}' if s.get("ci") else ""
        diff = s.get("diff")
        diff_cls = "num " + ("down" if diff is not None and diff < 0 else "up" if diff else "")
        rows.append([f"<td>{_e(_slice_label(s, names))}</td>",
                     f'<td class="num {"small" if small else ""}">{s["count"]}{" (small)" if small else ""}</td>',
                     _num(s["accuracy"]), f'<td class="num">{ci}</td>', _num(s.get("baseline_accuracy")),
                     _num(diff, "{:+.4f}", diff_cls),
                     f'<td><div class="bar" style="width:{int(240 * (s["accuracy"] or 0))}px"></div></td>'])
    return rows


def _gallery(items, names) -> str:
    if not items:
        return "<p>No misclassified examples.</p>"
    figs = [f'<figure><img alt="{_e(w["image_id"])}" src="{png_data_uri(base64.b64decode(w["pixels"]))}">'
            f'<figcaption>true {_e(names[w["label"]])}<br>predicted {_e(names[w["predicted"]])}<br>'
            f'{w["confidence"]:.0%} sure</figcaption></figure>' for w in items]
    return f'<div class="gallery">{"".join(figs)}</div>'


def _verdict(m) -> str:
    ev, push = m["evaluation"], m.get("pushed") or {}
    head = ('<span class="ok">BLESSED</span>' if ev["blessed"] else '<span class="bad">NOT BLESSED</span>')
    reasons = "".join(f"<li>{_e(r)}</li>" for r in ev["blessing_reasons"])
    base = (f"Compared with the last blessed model <code>{_e(ev['baseline_model'])}</code>."
            if ev.get("baseline_model") else "No blessed baseline model yet: judged on the absolute threshold only.")
    pushed = (f"Pushed as version {push['version']}: <code>{_e(push['path'])}</code>" if push.get("pushed")
              else f"Not pushed: {_e(push.get('reason', 'no pusher record'))}")
    check, serving = m.get("serving_check") or {}, ""
    if check:
        lat = check.get("latency_ms") or {}
        timing = (f"; latency per request of {check['batch_size']}: p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms"
                  if lat else "")
        serving = ("<p>Serving check: " + ('<span class="ok">PASSED</span>' if check["blessed"] else
                   '<span class="bad">FAILED</span>') + f": {check['canaries']} canaries from the {_e(check['split'])}"
                   f" split served by the SavedModel alone in a clean process{timing}.</p>"
                   + "".join(f"<p class=warn>{_e(r)}</p>" for r in check.get("reasons", [])))
    data = m.get("data", {}).get("validation", {})
    override = ('<p class="warn">Trained on data with anomalies (validation.allow_anomalies is true): '
                + "; ".join(_e(a["message"]) for a in data.get("anomalies", [])) + "</p>") if data.get("overridden") else ""
    return f"<h2>Verdict: {head}</h2>{override}<ul>{reasons}</ul><p>{base}</p>{serving}<p>{pushed}</p>"


def render_html(m: dict) -> str:
    """m: the dict written as METRICS (contract/artifacts.py) (run facts, evaluation, training, timings, config)."""
    ev, src, names = m["evaluation"], m["source"], m["source"]["class_names"]
    t = ev["thresholds"]
    warn = f'<p class="warn">Data: {_e(src["note"])}</p>' if src.get("note") else ""
    if src.get("custom"):
        warn = ('<p class="warn" id="own-data">Your own data, not a verified public dataset: no published checksum '
                'exists for it, so the content sha256 of every input file is recorded instead (below, and in the '
                'lineage).</p>')
    facts = [("dataset", src["dataset"]), ("data source", f'{src["kind"]}: {src["location"]}'),
             ("records", ", ".join(f"{k} {v}" for k, v in m["records"].items())),
             ("evaluated split", ev["split"] + (f' ({ev["split_note"]})' if ev.get("split_note") else "")),
             ("accuracy", f'{ev["accuracy"]:.4f} on {ev["examples"]} examples'),
             ("thresholds", f'accuracy >= {t["min_accuracy"]}; drop vs baseline <= {t["max_drop"]} overall, '
                            f'<= {t["max_slice_drop"]} per slice of >= {t["min_slice_size"]} examples'),
             ("versions", ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items()))]
    cached = m.get("cached", {})
    timing = [[f"<td>{_e(k)}</td>", _num(v, "{:.1f}"), f"<td>{_e('cached from run ' + cached[k]) if k in cached else 'ran'}</td>"]
              for k, v in m["timings_s"].items()]
    per_class = [[f"<td>{_e(_class(i, names))}</td>", _num(v.get("precision")), _num(v.get("recall"))]
                 for i, v in ((int(k), v) for k, v in ev["per_class"].items())]
    edges = [[f"<td>{_e(k)}</td>", f"<td>{_e(', '.join(f'{x:g}' for x in v))}</td>"] for k, v in m.get("bucket_edges", {}).items()]
    hist = m.get("training", {}).get("history", {})
    curves = (line_chart({k: hist[k] for k in ("loss", "val_loss") if k in hist}, "loss per epoch (train, eval)")
              + line_chart({k: hist[k] for k in ("accuracy", "val_accuracy") if k in hist},
                           "accuracy per epoch (train, eval)"))
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Run {_e(m['run_id'])}</title>
<style>{CSS}</style></head><body>
<h1>MNIST LSTM pipeline: run {_e(m['run_id'])}</h1>{warn}
{_verdict(m)}
{_table(None, [[f"<th>{_e(k)}</th>", f"<td>{_e(v)}</td>"] for k, v in facts])}
<h2>Accuracy per slice</h2>
<p>Intervals are 95% Wilson score intervals of each slice's accuracy; slices under {t["min_slice_size"]} examples are marked
small and are not gated. Buckets are quantiles of the train split (edges below).</p>
{slice_charts(ev, names)}
<details><summary>All {len(ev["slices"])} slices, worst first</summary>
{_table(["slice", "examples", "accuracy", "95% interval", "baseline", "change", ""], _slice_rows(ev, names), "slices")}
</details>
<h2>Confusion matrix ({_e(ev['split'])})</h2>{confusion_heatmap(ev["confusion"], names)}
<h2>Precision and recall per class</h2>{_table(["class", "precision", "recall"], per_class)}
<h2>Misclassified examples, worst classes first</h2>{_gallery(ev.get("misclassified", []), names)}
<h2>Data: statistics and validation</h2>{render_data(m.get("data", {}).get("statistics"), m.get("data", {}).get("validation"), names)}
<h2>Learning curves</h2><div id="learning-curves">{curves or "<p>No history.</p>"}</div>
{render_tuning(m.get("tuning"))}
<h2>Bucket edges (train quantiles)</h2>{_table(["property", "inner edges"], edges)}
<h2>Component wall time (s)</h2>{_table(["component", "seconds", ""], timing)}
<h2>Configuration</h2>{_table(["key", "value"], [[f"<td>{_e(k)}</td>", f"<td>{_e(v)}</td>"] for k, v in m["config_flat"].items()])}
</body></html>"""
