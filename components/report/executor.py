"""Report executor: `metrics.json` for machines and `report.html` for people, from one dict.

It reads its declared input artifacts from disk (and the runner's record of this run: timings, what was
cached), so it needs no TensorFlow and is cheap to run every time (a report describes its own run).
"""
from __future__ import annotations

from components.report.render import render_html
from pipeline import fs
from pipeline.artifacts import join, read_json, write_json


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and k != "profiles":
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _timings(components: dict) -> dict:
    return {name: c["seconds"] for name, c in components.items() if "seconds" in c}


def _read(folder: str, name: str):
    return read_json(join(folder, name))


def run(ctx, inputs, outputs) -> dict:
    ev = _read(inputs["evaluation"], "results.json") | {"misclassified": _read(inputs["evaluation"], "misclassified.json")}
    source = ctx.source.describe() | {"class_names": ctx.params.dataset["class_names"],
                                               "custom": ctx.params.dataset["custom"]}
    components = ctx.run_record
    pushed = _read(inputs["pushed"], "push.json")
    metrics = {
        "run_id": ctx.run_id,
        "source": source,
        "evaluation": ev,
        "training": {"history": _read(inputs["model_run"], "history.json")},
        "records": _read(inputs["examples"], "counts.json"),
        "bucket_edges": _read(inputs["examples"], "bucket_edges.json"),
        "pushed": pushed,
        # the pusher has the last word: it compares what was served with what was evaluated
        "serving_check": _read(inputs["infra_blessing"], "infra_blessing.json") | pushed.get("serving_check", {}),
        "versions": ctx.versions,
        "timings_s": _timings(components),
        "cached": {n: c.get("cached_from_run") for n, c in components.items() if c.get("status") == "cached"},
        "config_flat": _flatten(ctx.params.config),
        "data": {"statistics": read_json(join(inputs["statistics"], "statistics.json")),
                 "validation": _read(inputs["anomalies"], "anomalies.json")},
    }
    out = outputs["report"]
    fs.makedirs(out)
    write_json(fs.join(out, "metrics.json"), metrics)
    ctx.fault_point("mid")
    with fs.open_file(fs.join(out, "report.html"), "w") as f:
        f.write(render_html(metrics))
    return {"html": "report.html", "json": "metrics.json"}
