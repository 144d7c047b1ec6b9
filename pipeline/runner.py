"""Run the DAG locally: each component writes into staging, and is published by rename on success.

    python -m pipeline run --config pipeline.yaml
"""
from __future__ import annotations

import dataclasses
import logging
import time
import uuid

from pipeline import artifacts as af
from pipeline.dag import components
from pipeline.spec import ExecContext

log = logging.getLogger(__name__)


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:4]


def _versions() -> dict:
    from importlib.metadata import version
    names = ("tensorflow", "tf_keras", "apache-beam", "tensorflow-transform", "tensorflow-model-analysis")
    return {n: version(n) for n in names}


def _run_component(spec, run_dir, cfg, beam_args, source, produced, facts, run_id):
    staging = af.staging_dir(run_dir, spec.name)
    outputs = {name: af.join(staging, name) for name in spec.outputs}
    ctx = ExecContext(run_id=run_id, run_dir=run_dir, config=cfg, beam_args=tuple(beam_args), source=source,
                      temp_dir=af.join(staging, ".tmp"), facts=facts)
    try:
        result = spec.load_executor()(ctx, {i: produced[i] for i in spec.inputs}, outputs)
        for name, path in outputs.items():
            if not af.gfile().exists(path):
                raise RuntimeError(f"component {spec.name} did not produce its output '{name}'")
            final = af.join(run_dir, spec.name, name)
            af.publish(path, final)
            produced[name] = final
    finally:
        af.discard(staging)  # failed or finished, nothing half-written stays behind
    return result or {}


def run_pipeline(cfg, beam_args: list[str], run_id: str | None = None) -> dict:
    """Run every component in order; return the summary that is also written to summary.json."""
    from data.acquire import acquire

    run_id = run_id or new_run_id()
    run_dir = af.join(cfg.pipeline.root, "runs", run_id)
    af.gfile().makedirs(run_dir)
    summary_path = af.join(run_dir, "summary.json")
    summary = {"run_id": run_id, "status": "running", "dataset": cfg.data.dataset, "config": cfg.as_dict(),
               "beam_args": beam_args, "versions": _versions(), "components": {}, "artifacts": {}}
    af.write_json(summary_path, summary)
    facts: dict = {"_timings": summary["components"]}
    try:
        source = acquire(cfg.data)
        summary["source"] = dataclasses.asdict(source)
        produced = {"raw_data": source.location}
        for spec in components():
            log.info("=== %s", spec.name)
            start = time.perf_counter()
            entry = summary["components"][spec.name] = {"status": "running"}
            af.write_json(summary_path, summary)
            try:
                facts[spec.name] = _run_component(spec, run_dir, cfg, beam_args, source, produced, facts, run_id)
            except BaseException:
                entry.update(status="failed", seconds=round(time.perf_counter() - start, 2))
                raise
            entry.update(status="succeeded", seconds=round(time.perf_counter() - start, 2), facts=facts[spec.name])
            summary["artifacts"].update({o: produced[o] for o in spec.outputs})
            af.write_json(summary_path, summary)
        _finish(summary, produced, facts)
        af.discard(af.join(run_dir, ".checkpoints"))
        af.write_json(summary_path, summary)
        with af.gfile().GFile(af.join(cfg.pipeline.root, "runs", "latest"), "w") as f:
            f.write(run_id)
        return summary
    except BaseException as e:
        summary.update(status="failed", error=f"{type(e).__name__}: {e}")
        af.write_json(summary_path, summary)
        raise


def _finish(summary: dict, produced: dict, facts: dict) -> None:
    ev = facts["evaluator"]
    summary.update(status="succeeded", blessed=ev["blessed"],
                   metrics={"accuracy": ev["accuracy"], "split": ev["split"], "examples": ev["examples"]},
                   records=facts["ingest"]["records"], split_digest=facts["ingest"]["split_digest"])
    summary["artifacts"]["report"] = af.join(produced["report"], "report.html")
