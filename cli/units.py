"""A run as three kinds of task, for an orchestrator (docs/orchestration.md): begin it, run one step of it,
finish it. `python -m pipeline run` walks the same pieces (pipeline/runner.py) in one process.

    RUN=$(python -m pipeline begin --config pipeline.yaml | tail -1)
    python -m pipeline step ingest --run-id $RUN --config pipeline.yaml
    ...
    python -m pipeline finish --run-id $RUN --config pipeline.yaml

Every task takes the begin's --config, --set, --profile and --runner (a task with another config is
refused); the Beam flags are the ones begin recorded. A step launched before the steps that make its inputs
is one line and exit 2; a failed step can be launched again (an orchestrator's retry) and reruns; a step
already done in this run is reused from the cache like any other.
"""
from __future__ import annotations

import os

from cli import commands


def _config(args, beam_flags: list[str]):
    """The config as `run` builds it from the same flags (beam flags included)."""
    import argparse
    overrides = list(args.set) + ([f"beam.runner={args.runner}"] if args.runner else [])
    overrides += [f"beam.extra_args={beam_flags!r}"] if beam_flags else []
    return commands.load(argparse.Namespace(config=args.config, set=overrides, profile=args.profile))


def _log(cfg, run_id: str, name: str) -> str:
    from pipeline import fs
    root = cfg.pipeline.root
    return (os.path.join("build", "logs", f"{run_id}-{name}.log") if fs.is_remote(root)
            else os.path.join(root, "runs", run_id, "logs", f"{name}.log"))


def cmd_begin(args, beam_flags: list[str], log: dict) -> int:
    """Record a new run (its config, Beam flags, data) and print its id, last, for the next tasks."""
    from cli.dag import components
    from ops.services import for_runner
    from pipeline import console, fs
    from pipeline.metadata import MetadataStore
    from pipeline.packaging import with_package
    from pipeline.runner import begin, metadata_path, new_run_id
    from pipeline.sections import ConfigError
    cfg = _config(args, beam_flags)
    why = fs.check_bucket(cfg.pipeline.root)
    if why:
        raise ConfigError(f"pipeline.root {cfg.pipeline.root}: {why}")
    run_id = args.run_id or new_run_id()
    log["path"] = _log(cfg, run_id, "begin")
    beam_args = with_package(cfg.beam_args(), os.path.join("build", "wheels"))
    cfg = for_runner(beam_args).prepare(cfg)
    store = MetadataStore(metadata_path(cfg))
    try:
        with console.session(log["path"]) as shown:
            run = begin(cfg, beam_args, components(cfg), store, run_id, driver=False)
            shown.write(f"run {run.run_id}: begun, {cfg.data.dataset} on {cfg.beam.runner}; its steps are tasks")
    finally:
        store.close()
    if args.run_id_file:   # a Kubeflow component's output parameter
        with open(args.run_id_file, "w") as f:
            f.write(run.run_id)
    print(run.run_id)
    return 0


def cmd_step(args, beam_flags: list[str], log: dict) -> int:
    """Run one step of a begun run, with its console line; resumable (a retry runs it again)."""
    from cli.dag import components
    from ops.services import for_runner
    from pipeline import console
    from pipeline.runner import step_of
    from pipeline.sections import ConfigError
    cfg = _config(args, beam_flags)
    dag = components(cfg)
    spec = next((s for s in dag if s.name == args.name), None)
    if spec is None:
        raise ConfigError(f"step {args.name}: not a step of this pipeline; expected one of "
                          f"{', '.join(s.name for s in dag)}")
    log["path"] = _log(cfg, args.run_id, args.name)
    with console.session(log["path"]) as shown:
        with step_of(cfg, dag, args.run_id, services_for=for_runner) as run:
            run.step(spec)
        shown.write(f"run {args.run_id}: step {args.name} {run.summary['components'][args.name]['status']}")
    return 0


def cmd_finish(args, beam_flags: list[str], log: dict) -> int:
    """End a run whose steps all ran: its summary, report page, runs/latest, the history page."""
    from cli.dag import components
    from cli.history import write_index
    from pipeline import console
    from pipeline.runner import finish, step_of
    cfg = _config(args, beam_flags)
    log["path"] = _log(cfg, args.run_id, "finish")
    with console.session(log["path"]):
        with step_of(cfg, components(cfg), args.run_id, after=write_index) as run:
            summary = finish(run)
    print(commands.describe(summary, steps=False))
    return 0


def cmd_airflow_dag(args, beam_flags: list[str], log: dict) -> int:
    """Write the Airflow 3 DAG file (orchestration/airflow.py) for this config."""
    from orchestration.airflow import render
    from orchestration.tasks import config_args
    cfg = _config(args, beam_flags)
    flags = config_args(args.config, list(args.set) + ([f"beam.extra_args={beam_flags!r}"] if beam_flags else []),
                        args.profile, args.runner)
    _write(args.output, render(cfg, flags, os.path.abspath(args.config)))
    print(f"{args.output}: DAG {cfg.orchestration.dag_id}, {len(components_of(cfg)) + 2} tasks; copy it into "
          f"Airflow's dags folder")
    return 0


def components_of(cfg) -> list:
    from cli.dag import components
    return components(cfg)


def _write(path: str, text: str) -> None:
    from pipeline.artifacts import write_text
    write_text(path, text)


def cmd_kubeflow(args, beam_flags: list[str], log: dict) -> int:
    """Compile the Kubeflow Pipelines / Vertex AI spec (orchestration/kubeflow.py) for this config."""
    from orchestration.kubeflow import compile_to
    cfg = _config(args, beam_flags)
    compile_to(cfg, args.output)
    print(f"{args.output}: pipeline {cfg.orchestration.dag_id}, {len(components_of(cfg)) + 2} tasks on "
          f"{cfg.orchestration.image or cfg.worker.image}; submit it to Kubeflow or Vertex (docs/orchestration.md)")
    return 0
