"""Evaluator: `model` + raw `examples` -> `evaluation` (TFMA output) and `blessing`."""
import dataclasses

from data.registry import dataset_info
from pipeline.spec import ComponentSpec

SPEC = ComponentSpec(
    name="evaluator",
    inputs=("model", "examples"),
    optional_inputs=("baseline_model",),  # the last blessed model of this dataset, if any
    outputs=("evaluation", "blessing"),
    params=lambda cfg: {"dataset": cfg.data.dataset, "class_names": dataset_info(cfg.data).class_names,
                        "canaries": cfg.infra_validator.canaries, **dataclasses.asdict(cfg.evaluator)},
    executor="components.evaluator.executor:run",
)
