"""The report's tuning section (a run with the tuner): the chosen values beside the defaults, every trial sorted
by score with its status and duration, the best score after each trial, and each trial's learning curve."""
from __future__ import annotations

import html

from components.report.charts import line_chart


def _e(x) -> str:
    return html.escape(str(x))


def _value(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def sparkline(curve: list, lo: float, hi: float, width: int = 120, height: int = 28) -> str:
    """A trial's eval accuracy per epoch as a tiny inline SVG on the search's common scale (a dot per epoch)."""
    if not curve:
        return ""
    span, n = (hi - lo) or 1.0, max(len(curve) - 1, 1)
    pts = [(3 + (width - 6) * i / n, height - 3 - (height - 6) * (v - lo) / span) for i, v in enumerate(curve)]
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="#1f77b4"/>' for x, y in pts)
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">'
            f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{line}"/>{dots}</svg>')


def _row(cells) -> str:
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def render_tuning(tuning: dict | None) -> str:
    if not tuning:
        return ""
    best, trials = tuning["best_hyperparameters"], tuning["trials"]
    chosen = "".join(_row([_e(k), _e(_value(best["defaults"].get(k))), f"<b>{_e(_value(v))}</b>"])
                     for k, v in sorted(best["values"].items()))
    ranked = sorted(trials["trials"], key=lambda t: (t["status"] == "failed", -(t.get("score") or 0), t["number"]))
    points = [v for t in ranked for v in t["curve"]] or [0.0]
    lo, hi = min(points), max(points)
    rows = "".join(_row([
        f"<b>{t['number']}</b>" if t["number"] == best["trial"] else str(t["number"]),
        _e(t["status"]) + (f": {_e(t['reason'])}" if t.get("reason") else ""),
        "" if t.get("score") is None else f"{t['score']:.4f}", str(len(t["curve"])), sparkline(t["curve"], lo, hi),
        f"{t['seconds']:.1f}",
        _e(", ".join(f"{k} {_value(v)}" for k, v in sorted(t["values"].items()))),
        _e(", ".join(w for w in t["workers"] if w))]) for t in ranked)
    so_far = [s["best"] for s in trials["best_so_far"] if s["best"] is not None]
    progress = line_chart({"best eval accuracy so far": so_far}, "best eval accuracy after each finished trial",
                          x_label="trial", markers=True)
    curves = line_chart({f"trial {t['number']}": t["curve"] for t in ranked[:4] if t["curve"]},
                        "eval accuracy per epoch, the best 4 trials (every trial's: the table)", width=560,
                        height=240, markers=True)
    counts = {s: sum(t["status"] == s for t in trials["trials"]) for s in ("complete", "stopped early", "failed")}
    return f"""<h2 id="tuning">Tuning</h2>
<p>{len(trials["trials"])} trials ({counts["complete"]} complete, {counts["stopped early"]} stopped early,
{counts["failed"]} failed); epoch budgets (successive halving): {_e(", ".join(map(str, trials["rungs"])))}.
Chosen: trial {best["trial"]}, eval accuracy {best["score"]:.4f} (the eval split chose; the test split was not seen).</p>
<table><tr><th>trainer key</th><th>default</th><th>chosen</th></tr>{chosen}</table>
<div class="charts">{progress}{curves}</div>
<details open><summary>Every trial, best first</summary><table id="trials"><tr><th>trial</th><th>status</th>
<th>eval accuracy</th><th>epochs</th><th>eval accuracy per epoch</th><th>seconds</th><th>values</th><th>workers</th></tr>
{rows}</table></details>"""
