"""Tuner executor: search the trainer's knobs (pipeline.yaml tuner.space) on the eval split, each round's trial
turns one Beam job on the run's runner -> BEST_HYPERPARAMETERS and TRIALS (contract/artifacts.py).

Trials keep their checkpoints and results in <root>/tuning/tuner-<fingerprint>/trial-<n>/ (outside the run,
keyed by what is searched, like the trainer's checkpoints): a killed search run again reuses every finished
turn and runs only the rest; a finished search is a cached step. The test split is never read.

    python -m pipeline run --profile tune
"""
from __future__ import annotations

import dataclasses
import logging
import os

from components.tuner.search import Search, SearchError
from components.tuner.space import distributions, within
from components.tuner.transforms import RunTrials
from components.tuner.trial import finished
from contract import artifacts as files
from contract.errors import PipelineError
from pipeline import fs
from pipeline.artifacts import join, read_file, read_json, write_file, write_json

log = logging.getLogger(__name__)
IN_PROCESS = ("--runner=FnApiRunner", "--runner=DirectRunner")


def beam_args_for(beam_args: tuple, parallel: int) -> tuple:
    """The in-process runner runs one bundle at a time unless told otherwise: ask it for `parallel` worker
    processes (its multi-processing mode, as the direct-mp profile does). On Flink, the round's stages one
    after the other (BATCH_FORCED): Beam hands each stage subtask the next SDK worker of the job in the
    order the subtasks open, so only when the training stage's subtasks open after the stages before it
    do two turns get two workers (pipelined, both sometimes landed on one: a flaky `flink` test). Other
    runners keep their flags: their parallelism is the cluster's."""
    args = tuple(beam_args)
    if parallel > 1 and any(a in IN_PROCESS for a in args) and not any(a.startswith("--direct_") for a in args):
        args += ("--direct_running_mode=multi_processing", f"--direct_num_workers={parallel}")
    if "--runner=FlinkRunner" in args and not any(a.startswith("--execution_mode_for_batch") for a in args):
        args += ("--execution_mode_for_batch=BATCH_FORCED",)
    return args


def _root(path: str) -> str:
    return path if "://" in path else os.path.abspath(path)   # workers elsewhere resolve no relative path


def trainer_epochs(trainer: dict, train_records: int) -> int:
    """The epochs the trainer plans for its own values: trainer.epochs, capped by max_steps (its executor's rule)."""
    steps = trainer["steps_per_epoch"] or -(-train_records // trainer["batch_size"])
    return min(trainer["epochs"], -(-trainer["max_steps"] // steps)) if trainer["max_steps"] else trainer["epochs"]


def run(ctx, inputs, outputs) -> dict:
    p = ctx.params
    tuner, values = p.tuner, p.trainer
    folder = join(_root(ctx.pipeline_root or "."), "tuning", f"tuner-{ctx.fingerprint[:16]}")
    trial_dir = lambda n: join(folder, f"trial-{n}")
    asked = lambda n: read_json(join(trial_dir(n), "asked.json")) if fs.exists(join(trial_dir(n), "asked.json")) else None
    seed = p.seed if tuner["seed"] is None else tuner["seed"]
    dists = distributions(tuner["space"], values)
    baseline = within(dists, values) if tuner["baseline"] else None
    if tuner["baseline"] and baseline is None:
        log.warning("tuner: the trainer's own values lie outside tuner.space; no baseline trial")
    train_records = read_file(files.COUNTS, inputs["examples"])["train"]
    max_epochs = tuner["max_epochs"] or trainer_epochs(values, train_records)
    search = Search(dists, tuner["trials"], tuner["parallel"], min(tuner["min_epochs"], max_epochs), max_epochs,
                    tuner["reduction"], seed, recorded=asked, baseline=baseline)
    counts = {"run": 0, "reused": 0, "jobs": 0}
    beam_ctx = dataclasses.replace(ctx, beam_args=beam_args_for(ctx.beam_args, tuner["parallel"]))
    ctx.progress.expect(tuner["trials"], "trials")

    def task(turn) -> dict:
        return {"trial": turn.trial, "rung": turn.rung, "start_epoch": turn.start_epoch, "end_epoch": turn.end_epoch,
                "max_epochs": max_epochs, "values": {**values, **turn.values},
                "examples": _root(inputs["transformed_examples"]), "transform_graph": _root(inputs["transform_graph"]),
                "train_records": train_records, "folder": trial_dir(turn.trial),
                "threads": max(1, (os.cpu_count() or 2) // tuner["parallel"])}

    def run_round(turns) -> dict:
        results, todo = {}, []
        for turn in turns:
            if turn.rung == 0 and asked(turn.trial) is None:
                write_json(join(trial_dir(turn.trial), "asked.json"), turn.values)
            done = finished(trial_dir(turn.trial), turn.rung)
            if done is not None:
                results[(turn.trial, turn.rung)] = done
            else:
                todo.append(task(turn))
        counts["reused"] += len(turns) - len(todo)
        if todo:
            results.update(_run_job(beam_ctx, todo, counts))
        return results

    shown = []

    def after_round(n: int) -> None:
        ctx.progress.tick(len(search.ended) - len(shown), f"round {n}")   # trials finished, stopped or failed
        shown[:] = search.ended
        ctx.fault_point("mid")   # tests kill the search here, between rounds

    try:
        summary = search.run(run_round, after_round)
    except SearchError:
        fs.makedirs(ctx.evidence_dir)   # every trial's reason, kept: the TRIALS layout, no best
        write_file(files.TRIALS, ctx.evidence_dir, {"trials": [search.records[n] for n in sorted(search.records)],
                                                    "best_so_far": [], "rungs": search.rungs, "best": None})
        raise
    return _publish(outputs, summary, search, values, counts)


def _run_job(ctx, todo: list[dict], counts: dict) -> dict:
    """One Beam job for a round's unfinished turns; a turn the job never finished (a worker lost, the job
    failed) is a failed turn with the job's error as its reason."""
    import apache_beam as beam
    counts["jobs"] += 1
    pipeline = ctx.beam_pipeline(f"tuner-r{counts['jobs']}")
    # reshuffle=False: Create's own reshuffle would let Flink's optimizer drop RunTrials' (the data already
    # spread), leaving an SDK stage between the spread and the training that opens beside it (beam_args_for)
    _ = pipeline | "Turns" >> beam.Create(todo, reshuffle=False) | "RunTrials" >> RunTrials()
    why = ""
    try:
        ctx.run_beam(pipeline)
    except PipelineError:
        raise            # the cluster or its workers are gone: the search cannot go on
    except Exception as e:
        why = f"the round's Beam job failed: {type(e).__name__}: {(str(e).strip().splitlines() or [''])[-1][:200]}"
        log.warning("tuner: %s", why)
    counts["run"] += len(todo)
    out = {}
    for t in todo:
        done = finished(t["folder"], t["rung"])
        out[(t["trial"], t["rung"])] = done or {"status": "failed", "reason": why or "the turn left no result",
                                               "accuracy": None, "curve": []}
    return out


def _publish(outputs, summary: dict, search, values: dict, counts: dict) -> dict:
    best = summary["best"]
    chosen = {"values": best["values"], "trial": best["number"], "score": best["score"], "metric": "eval accuracy",
              "defaults": {k: values[k] for k in best["values"]}}
    fs.makedirs(outputs["best_hyperparameters"])
    write_file(files.BEST_HYPERPARAMETERS, outputs["best_hyperparameters"], chosen)
    fs.makedirs(outputs["trials"])
    write_file(files.TRIALS, outputs["trials"], {"trials": summary["trials"], "best_so_far": summary["best_so_far"],
                                                 "rungs": search.rungs, "best": best["number"]})
    status = [t["status"] for t in summary["trials"]]
    return {"trials": len(status), "complete": status.count("complete"), "stopped_early": status.count("stopped early"),
            "failed": status.count("failed"), "best_trial": best["number"], "best_eval_accuracy": best["score"],
            "values": best["values"], "turns_run": counts["run"], "turns_reused": counts["reused"],
            "beam_jobs": counts["jobs"], "rungs": search.rungs}
