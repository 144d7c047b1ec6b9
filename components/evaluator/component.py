"""Evaluator: `model` + raw `examples` -> `evaluation` (TFMA output) and `blessing`."""
import dataclasses

from pipeline.spec import ComponentSpec

SPEC = ComponentSpec(
    name="evaluator",
    inputs=("model", "examples"),
    outputs=("evaluation", "blessing"),
    params=lambda cfg: dataclasses.asdict(cfg.evaluator),
    executor="components.evaluator.executor:run",
    code=("components/evaluator", "components/trainer/export.py", "components/transform/executor.py",
          "components/transform/preprocessing.py", "components/ingest/records.py"),
)
