"""InfraValidator: `model` + raw `examples` + `evaluation` -> `infra_blessing` (the serving check before push).

The SavedModel is loaded in a separate, clean Python process (TensorFlow only: none of this repository
importable), sent the evaluator's canary examples as serialized raw records, and must answer with the
classes the evaluator predicted for them. Latency per request is recorded (p50, p99).
"""
import dataclasses

from pipeline.spec import ComponentSpec

SPEC = ComponentSpec(
    name="infra_validator",
    inputs=("model", "examples", "evaluation"),
    outputs=("infra_blessing",),
    params=lambda cfg: dataclasses.asdict(cfg.infra_validator),
    executor="components.infra_validator.executor:run",
)
