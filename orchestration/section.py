"""The `orchestration:` section of pipeline.yaml: how an orchestrator launches the pipeline's steps as tasks
(docs/orchestration.md). pipeline.yaml documents every key with its default, the same as here.

    python -m pipeline airflow-dag --output ~/airflow/dags/mnist_lstm.py
"""
from __future__ import annotations

import dataclasses
import datetime
import re
from typing import Optional


def _date(v) -> bool:
    try:
        datetime.date.fromisoformat(str(v))
        return True
    except ValueError:
        return False


@dataclasses.dataclass(frozen=True)
class OrchestrationSection:
    dag_id: str = "mnist_lstm"        # the Airflow DAG's id and the Kubeflow pipeline's name
    schedule: Optional[str] = None    # Airflow's schedule: a cron expression or a preset (@daily); null: by hand
    start_date: str = "2026-01-01"    # the first day the schedule counts from (no catch-up of missed days)
    retries: int = 2                  # each task's retries after a failure; a retry resumes the step (its cache)
    retry_delay_s: int = 60           # seconds between a task's tries
    # the Python that runs the tasks (it has this project and its locks); null: this checkout's .venv/bin/python
    python: Optional[str] = None
    image: Optional[str] = None       # Kubeflow/Vertex: every step's container image; null: worker.image

    # key -> (what a value must satisfy, what is expected: the error's words)
    CHECKS = {
        "dag_id": (lambda v: bool(re.fullmatch(r"[a-z][a-z0-9_]{0,62}", v)), "lower-case letters, digits, '_'"),
        "schedule": (lambda v: v is None or bool(re.fullmatch(r"@[a-z]+|(\S+\s+){4}\S+", v)),
                     "a cron expression (5 fields), a preset such as @daily, or null"),
        "start_date": (_date, "a date such as 2026-01-01"),
        "retries": (lambda v: 0 <= v <= 20, "0..20"),
        "retry_delay_s": (lambda v: 0 <= v <= 86400, "0..86400 seconds"),
        "image": (lambda v: v is None or bool(re.fullmatch(r"[a-z0-9][a-z0-9._/:@-]*", v)), "an image name"),
    }
