"""Fault injection for tests: PIPELINE_FAULT=<component>:<point> makes the pipeline process SIGKILL itself
at that point, a real kill at a reproducible place. Points: start (staging made, executor not yet
called), mid (inside the executor, where it calls ctx.fault_point('mid')), before_publish (outputs
complete in staging), mid_publish (an object store only: half of an output's files moved into place),
after_publish (outputs in place, execution not yet recorded as complete).
A step run in its own process (pipeline/isolated.py) kills the pipeline process first, then itself.
PIPELINE_FAULT_ONCE=<file>: the fault fires only while that file does not exist, and creates it first, so a
step launched again (an orchestrator's retry) gets through."""
from __future__ import annotations

import os
import signal

ENV = "PIPELINE_FAULT"
PARENT = "PIPELINE_STEP_PARENT"   # set in a step's own process: the pipeline process's pid
ONCE = "PIPELINE_FAULT_ONCE"


def fault_point(component: str, point: str) -> None:
    if os.environ.get(ENV) == f"{component}:{point}":
        if os.environ.get(ONCE):
            if os.path.exists(os.environ[ONCE]):
                return
            open(os.environ[ONCE], "w").close()
        if os.environ.get(PARENT):
            os.kill(int(os.environ[PARENT]), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
