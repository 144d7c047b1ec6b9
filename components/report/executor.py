"""Report executor: `metrics.json` for machines and `report.html` for people, from one dict."""
from __future__ import annotations

import dataclasses

import tensorflow as tf

from components.evaluator.results import read_results
from components.report.render import render_html
from data.registry import DATASETS
from pipeline.artifacts import join, write_json


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and k != "profiles":
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def run(ctx, inputs, outputs) -> dict:
    ev_facts = ctx.facts["evaluator"]
    results = read_results(inputs["evaluation"])
    source = dataclasses.asdict(ctx.source) | {"class_names": DATASETS[ctx.source.dataset].class_names}
    metrics = {
        "run_id": ctx.run_id,
        "source": source,
        "evaluation": {**ev_facts, "min_accuracy": ctx.config.evaluator.min_accuracy,
                       "overall": results["overall"], "slices": results["slices"]},
        "training": ctx.facts.get("trainer", {}),
        "records": ctx.facts.get("ingest", {}).get("records", {}),
        "timings_s": {k: v["seconds"] for k, v in ctx.facts.get("_timings", {}).items() if "seconds" in v},
        "config_flat": _flatten(ctx.config.as_dict()),
    }
    out = outputs["report"]
    tf.io.gfile.makedirs(out)
    write_json(join(out, "metrics.json"), metrics)
    with tf.io.gfile.GFile(join(out, "report.html"), "w") as f:
        f.write(render_html(metrics))
    return {"html": "report.html", "json": "metrics.json"}
