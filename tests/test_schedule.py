"""The runner's order: a background step runs beside the steps after it, until one needs its outputs."""
import threading

import pytest

from pipeline.schedule import run_in_order
from pipeline.spec import ComponentSpec


def _spec(name, inputs=(), outputs=(), background=False):
    return ComponentSpec(name=name, inputs=inputs, outputs=outputs, params=lambda cfg: {}, executor="x:y",
                         background=background)


SPECS = [_spec("train", outputs=("model",)), _spec("check", ("model",), ("checked",), background=True),
         _spec("evaluate", ("model",), ("evaluation",)), _spec("push", ("checked", "evaluation"), ("pushed",))]


def test_a_background_step_runs_beside_the_next_and_is_awaited_by_its_consumer():
    log, evaluating = [], threading.Event()

    def step(spec):
        if spec.name == "check":    # it can only finish while 'evaluate' runs: beside it, not after it
            assert evaluating.wait(timeout=30), "the background step did not run beside the next one"
        if spec.name == "evaluate":
            evaluating.set()
            threading.Event().wait(0.2)
        log.append((spec.name, threading.current_thread() is threading.main_thread()))

    run_in_order(SPECS, step)
    assert log == [("train", True), ("check", False), ("evaluate", True), ("push", True)]   # check ended first


def test_a_background_failure_is_raised_before_its_consumer_runs():
    ran = []

    def step(spec):
        ran.append(spec.name)
        if spec.name == "check":
            raise RuntimeError("the probe failed")

    with pytest.raises(RuntimeError, match="the probe failed"):
        run_in_order(SPECS, step)
    assert "push" not in ran and "evaluate" in ran


def test_a_main_failure_waits_for_the_background_step():
    finished = []

    def step(spec):
        if spec.name == "check":
            threading.Event().wait(0.3)
            finished.append("check")
        if spec.name == "evaluate":
            raise ValueError("evaluation failed")

    with pytest.raises(ValueError, match="evaluation failed"):
        run_in_order(SPECS, step)
    assert finished == ["check"]     # not abandoned half-way
