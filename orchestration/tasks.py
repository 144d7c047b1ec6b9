"""The pipeline as an orchestrator's tasks: begin, one task per step, finish. A step's upstream tasks are the
steps that make its inputs and the step `run` runs before it, unless that one runs in the background
(statistics beside transform, the serving check beside the evaluator): the same order as `run`, the
validator still a gate. Each task is a command line of this project's CLI.

    python -c "from cli.config import load_config; from orchestration.tasks import tasks; \
print(tasks(load_config('pipeline.yaml')))"
"""
from __future__ import annotations

import dataclasses
import os
import shlex

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, FINISH = "begin", "finish"


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    upstream: tuple[str, ...]
    args: tuple[str, ...]        # after `python -m pipeline`; "{run_id}" stands for the id begin printed


def tasks(cfg, config_args: tuple = ()) -> list[Task]:
    """Every task, in an order that respects its edges. config_args: the --config/--set/--profile/--runner
    flags every task passes (a task with another config is refused, pipeline/runner.py open_run)."""
    from cli.dag import components
    dag = components(cfg)
    producer = {out: spec.name for spec in dag for out in spec.outputs}
    out = [Task(BEGIN, (), (BEGIN, *config_args))]
    before = BEGIN   # the last step `run` waits for: a gate (the validator) holds back every step after it
    for spec in dag:
        ups = tuple(dict.fromkeys([producer[n] for n in spec.inputs if n in producer] + [before]))
        out.append(Task(spec.name, ups, ("step", spec.name, "--run-id", "{run_id}", *config_args)))
        if not spec.background:   # a background step runs beside the next ones, as in `run`
            before = spec.name
    out.append(Task(FINISH, tuple(s.name for s in dag), (FINISH, "--run-id", "{run_id}", *config_args)))
    return out


def config_args(config: str, sets: list[str], profile: str | None, runner: str | None) -> tuple[str, ...]:
    """The flags that give every task the config these name, with the config file as an absolute path."""
    args = ["--config", os.path.abspath(config)]
    for kv in sets:
        args += ["--set", kv]
    args += ["--profile", profile] if profile else []
    args += ["--runner", runner] if runner else []
    return tuple(args)


def python_of(cfg) -> str:
    """The interpreter that runs the tasks: orchestration.python, or this checkout's venv."""
    return cfg.orchestration.python or os.path.join(REPO, ".venv", "bin", "python")


RUN_ID_VAR = "PIPELINE_RUN_ID"


def shell(python: str, task: Task) -> str:
    """The task's command line for a shell, in this repository's folder; the run id comes from the
    environment variable RUN_ID_VAR (the orchestrator sets it from begin's output)."""
    args = [f'"${RUN_ID_VAR}"' if a == "{run_id}" else shlex.quote(a) for a in task.args]
    return f"cd {shlex.quote(REPO)} && exec {shlex.quote(python)} -m pipeline " + " ".join(args)


def resolved_yaml(cfg) -> str:
    """The config as loaded (profile and --set applied) as a file that loads back to the same config: what a
    task that has no checkout (a Kubeflow pod) is given."""
    import yaml
    values = cfg.as_dict()
    if values.get("profile"):
        values["profiles"] = {values["profile"]: {}}   # applied already; named so the run records it
    return yaml.safe_dump(values, sort_keys=False)
