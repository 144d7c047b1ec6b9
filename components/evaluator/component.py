"""Evaluator: `model` + raw `examples` -> `evaluation` (TFMA output) and `blessing`."""
import dataclasses

from pipeline.spec import ComponentSpec

SPEC = ComponentSpec(
    name="evaluator",
    inputs=("model", "examples"),
    optional_inputs=("baseline_model",),  # the last blessed model of this dataset, if any
    outputs=("evaluation", "blessing"),
    params=lambda cfg: {"dataset": cfg.data.dataset, **dataclasses.asdict(cfg.evaluator)},  # dataset: class count
    executor="components.evaluator.executor:run",
)
