"""Evaluator: `model` + raw `examples` -> `evaluation` (TFMA output) and `blessing`."""
import dataclasses

from components.evaluator.section import EvaluatorSection
from data.registry import dataset_info
from pipeline.spec import ComponentSpec, FromHistory


def _headline(f: dict) -> str:
    chose = "chose the model" if f["split"] == "eval" else "chose nothing"
    return (f"accuracy {f['accuracy']:.4f} on {f['split']} ({f['examples']}; {chose}), "
            + ("BLESSED" if f["blessed"] else "NOT BLESSED"))


SPEC = ComponentSpec(
    name="evaluator",
    section=("evaluator", EvaluatorSection),
    inputs=("model", "examples"),
    # the last blessed model of this dataset, if any, unless it is this very model
    optional_inputs={"baseline_model": FromHistory("evaluator", "blessed", "model", unless_same_as="model")},
    outputs=("evaluation", "blessing"),
    params=lambda cfg: {"dataset": cfg.data.dataset, "class_names": dataset_info(cfg.data).class_names,
                        "canaries": cfg.infra_validator.canaries, **dataclasses.asdict(cfg.evaluator)},
    executor="components.evaluator.executor:run",
    headline=_headline,
    summarize=lambda f: {"blessed": f["blessed"],
                         "metrics": {"accuracy": f["accuracy"], "split": f["split"], "examples": f["examples"]}},
)
