"""InfraValidator: `model` + raw `examples` -> `infra_blessing` (the serving check before push).

The SavedModel is loaded in a separate, clean Python process (TensorFlow only: none of this repository
importable) and sent canary examples as serialized raw records; it must answer with the classes the same
model gives in the pipeline's process. Latency per request is recorded (p50, p99). It needs nothing of
the evaluator, so it runs beside it (background), as TFX's InfraValidator and Evaluator do.
"""
import dataclasses

from pipeline.spec import ComponentSpec

SPEC = ComponentSpec(
    name="infra_validator",
    inputs=("model", "examples"),
    outputs=("infra_blessing",),
    params=lambda cfg: dataclasses.asdict(cfg.infra_validator),
    executor="components.infra_validator.executor:run",
    background=True,
)
