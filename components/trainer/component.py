"""Trainer: `transformed_examples` + `transform_graph` -> `model` (SavedModel) and `model_run` (logs)."""
import dataclasses

from pipeline.spec import ComponentSpec

SPEC = ComponentSpec(
    name="trainer",
    inputs=("transformed_examples", "transform_graph"),
    outputs=("model", "model_run"),
    params=lambda cfg: {"seed": cfg.pipeline.seed, **dataclasses.asdict(cfg.trainer)},
    executor="components.trainer.executor:run",
)
