"""The order steps run in: the DAG's, with background steps beside the ones after them.

A background step (ComponentSpec.background, e.g. the serving check) starts in a thread and the next steps
run at once in the main thread; the first step that needs one of its outputs waits for it. Steps that
are not background run one at a time in the main thread, so Ctrl-C and signals reach them as before.

    python -m pytest tests/test_schedule.py
"""
from __future__ import annotations

import threading


def run_in_order(specs, step) -> None:
    """step(spec) for each spec, in order. A background spec runs in a thread beside the specs after it;
    the first spec that needs one of its outputs (or the end) waits for it, and its error is raised then."""
    started: dict = {}   # output name -> the _Background running the step that makes it
    try:
        for spec in specs:
            for waited in {started.pop(n) for n in spec.inputs if n in started}:
                waited.result()
            if spec.background:
                job = _Background(step, spec)
                started.update({name: job for name in spec.outputs})
            else:
                step(spec)
        for job in set(started.values()):
            job.result()
    except Exception:
        for job in set(started.values()):   # let them finish: their records and outputs stay consistent
            job.thread.join()
        raise


class _Background:
    def __init__(self, step, spec):
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(step, spec), name=f"step-{spec.name}", daemon=True)
        self.thread.start()

    def _run(self, step, spec):
        try:
            step(spec)
        except BaseException as e:   # raised in the main thread by result()
            self.error = e

    def result(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error
