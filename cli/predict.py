"""`python -m pipeline predict`: predictions for a large unlabelled set on any Beam runner (TFX's BulkInferrer),
as a run of one step (components/bulk_inferrer) through the pipeline's runner.

    python -m pipeline predict --model latest --input images/ --output preds/ [--runner flink]

--model: a pushed version number, `latest` (the newest pushed version), a run id (that run's trained
model), or a SavedModel folder. --input: an IDX images file (.gz or not), a folder of PNG/JPEG images
(searched recursively; ids are the relative paths), or raw TFRecords (a file, a glob, or a folder such
as an examples artifact's Split-test/). The output folder is assembled aside and appears whole.
"""
from __future__ import annotations

import glob
import json
import os
import uuid

from components.bulk_inferrer.executor import PredictError  # noqa: F401  (the CLI names it with the user errors)
from pipeline import fs


def _local_or_uri(path: str) -> str:
    return path if fs.is_remote(path) else os.path.abspath(path)


def _is_model(path: str) -> bool:
    return fs.exists(fs.join(path, "saved_model.pb"))


def resolve_model(spec: str, cfg) -> str:
    """--model as a SavedModel folder (a local path or a gs:// URI)."""
    serving = cfg.pusher.serving_dir or fs.join(cfg.pipeline.root, "serving", cfg.data.dataset)
    if (fs.is_remote(spec) or os.path.isdir(spec)) and _is_model(spec):
        return _local_or_uri(spec)
    if spec == "latest" or spec.isdigit():
        versions = sorted(int(d) for d in fs.listdir(serving) if d.isdigit())
        if not versions:
            raise PredictError(f"--model {spec}: no pushed version under {serving}")
        version = versions[-1] if spec == "latest" else int(spec)
        if version not in versions:
            raise PredictError(f"--model {spec}: not a pushed version under {serving}; expected one of {versions}")
        return _local_or_uri(fs.join(serving, str(version)))
    summary = fs.join(cfg.pipeline.root, "runs", spec, "summary.json")
    if "/" not in spec and fs.exists(summary):
        with fs.open_file(summary) as f:
            model = json.load(f).get("artifacts", {}).get("model")
        if model and _is_model(model):
            return _local_or_uri(model)
        raise PredictError(f"--model {spec}: run {spec} has no trained model")
    raise PredictError(f"--model {spec}: not a SavedModel folder, a pushed version of {serving}, 'latest', "
                       f"nor a run id under {cfg.pipeline.root}/runs")


def run_predict(cfg, beam_args: list[str], model: str, source: str, output: str) -> dict:
    """Predict every input as a run of one step (bulk_inferrer) through the pipeline's runner: recorded in
    the metadata store with its model and input, so `lineage` finds it. Its published predictions are then
    copied to `output`, which appears whole (summary.json last). Returns the step's facts with the run id."""
    from cli.dag import predict_dag
    from ops.services import for_runner
    from pipeline.runner import run

    if fs.exists(output):
        raise PredictError(f"--output {output}: already exists; predictions never overwrite a folder")
    given = {"model": resolve_model(model, cfg), "inference_data": _local_or_uri(source)}
    if not fs.is_remote(source) and not glob.glob(source):
        raise PredictError(f"--input {source}: no such file or folder")
    summary = run(cfg, beam_args, predict_dag(), services=for_runner(beam_args), given=given)
    facts = dict(summary["predictions"], run_id=summary["run_id"],
                 runner=next((a.split("=", 1)[1] for a in beam_args if a.startswith("--runner=")), "direct"),
                 seconds=summary["components"]["bulk_inferrer"]["seconds"])
    _export(summary["artifacts"]["predictions"], output, facts)
    return facts


def _export(published: str, output: str, facts: dict) -> None:
    """The run's predictions artifact, copied beside `output` and moved into place: it appears whole."""
    staging = _local_or_uri(f"{output.rstrip('/')}.partial-{uuid.uuid4().hex[:6]}")
    try:
        for rel, _ in fs.walk_files(published):
            fs.makedirs(os.path.dirname(fs.join(staging, rel)))
            fs.copy(fs.join(published, rel), fs.join(staging, rel))
        with fs.open_file(fs.join(staging, "summary.json"), "w") as f:
            json.dump(facts, f, indent=2)
        # Locally the folder appears whole, or not at all; an object store moves file by file, summary.json
        # last: a folder without it is incomplete.
        fs.rename(staging, output, last=("summary.json",))
    finally:
        fs.rmtree(staging)
