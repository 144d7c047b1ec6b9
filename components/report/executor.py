"""Report executor: `metrics.json` for machines and `report.html` for people, from one dict.

It reads only the facts that upstream components recorded, so it needs no TensorFlow and is cheap to
run every time (a report describes its own run: id, timings, what was cached).
"""
from __future__ import annotations

import dataclasses

from components.report.render import render_html
from data.registry import DATASETS
from pipeline import fs
from pipeline.artifacts import join, read_json, write_json
from pipeline.fingerprint import library_versions


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


def run(ctx, inputs, outputs) -> dict:
    ev = ctx.facts["evaluator"]
    source = dataclasses.asdict(ctx.source) | {"class_names": DATASETS[ctx.source.dataset].class_names}
    components = ctx.facts.get("_timings", {})
    metrics = {
        "run_id": ctx.run_id,
        "source": source,
        "evaluation": ev,
        "training": ctx.facts.get("trainer", {}),
        "records": ctx.facts.get("ingest", {}).get("records", {}),
        "bucket_edges": ctx.facts.get("ingest", {}).get("bucket_edges", {}),
        "pushed": ctx.facts.get("pusher", {}),
        "versions": library_versions(),
        "timings_s": _timings(components),
        "cached": {n: c.get("cached_from_run") for n, c in components.items() if c.get("status") == "cached"},
        "config_flat": _flatten(ctx.params.config),
        "data": {"statistics": read_json(join(inputs["statistics"], "statistics.json")),
                 "validation": ctx.facts.get("validator", {})},
    }
    out = outputs["report"]
    fs.makedirs(out)
    write_json(fs.join(out, "metrics.json"), metrics)
    ctx.fault_point("mid")
    with fs.open_file(fs.join(out, "report.html"), "w") as f:
        f.write(render_html(metrics))
    return {"html": "report.html", "json": "metrics.json"}
