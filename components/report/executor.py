"""Report executor: metrics (contract/artifacts.py METRICS) for machines and `report.html` for people, from one dict.

It reads its declared input artifacts from disk (and the runner's record of this run: timings, what was
cached), so it needs no TensorFlow and is cheap to run every time (a report describes its own run).
"""
from __future__ import annotations

from components.report.render import render_html
from contract import artifacts as files
from data.acquire import DataSource
from pipeline import fs
from pipeline.artifacts import read_file, write_file


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
    ev = read_file(files.RESULTS, inputs["evaluation"]) | {
        "misclassified": read_file(files.MISCLASSIFIED, inputs["evaluation"])}
    source = DataSource.from_properties(ctx.input_properties["raw_data"]).describe() | {"class_names": ctx.params.dataset["class_names"],
                                               "custom": ctx.params.dataset["custom"]}
    components = ctx.run_record
    pushed = read_file(files.PUSH, inputs["pushed"])
    metrics = {
        "run_id": ctx.run_id,
        "source": source,
        "evaluation": ev,
        "training": {"history": read_file(files.HISTORY, inputs["model_run"])},
        "records": read_file(files.COUNTS, inputs["examples"]),
        "bucket_edges": read_file(files.BUCKET_EDGES, inputs["examples"]),
        "pushed": pushed,
        # the pusher has the last word: it compares what was served with what was evaluated
        "serving_check": read_file(files.INFRA_BLESSING, inputs["infra_blessing"]) | pushed.get("serving_check", {}),
        "versions": ctx.versions,
        "timings_s": _timings(components),
        "cached": {n: c.get("cached_from_run") for n, c in components.items() if c.get("status") == "cached"},
        "config_flat": _flatten(ctx.params.config),
        "data": {"statistics": read_file(files.STATISTICS, inputs["statistics"]),
                 "validation": read_file(files.ANOMALIES, inputs["anomalies"])},
    }
    if "trials" in inputs:   # a run with the tuner (cli/dag.py)
        metrics["tuning"] = {"best_hyperparameters": read_file(files.BEST_HYPERPARAMETERS, inputs["best_hyperparameters"]),
                             "trials": read_file(files.TRIALS, inputs["trials"])}
    out = outputs["report"]
    fs.makedirs(out)
    write_file(files.METRICS, out, metrics)
    ctx.fault_point("mid")
    with fs.open_file(fs.join(out, "report.html"), "w") as f:
        f.write(render_html(metrics))
    return {"html": "report.html", "json": files.METRICS.file}
