"""Fault injection for tests: PIPELINE_FAULT=<component>:<point> makes the pipeline process SIGKILL itself
at that point, a real kill at a reproducible place. Points: start (staging made, executor not yet
called), mid (inside the executor, where it calls ctx.fault_point('mid')), before_publish (outputs
complete in staging), after_publish (outputs in place, execution not yet recorded as complete)."""
from __future__ import annotations

import os
import signal

ENV = "PIPELINE_FAULT"


def fault_point(component: str, point: str) -> None:
    if os.environ.get(ENV) == f"{component}:{point}":
        os.kill(os.getpid(), signal.SIGKILL)
