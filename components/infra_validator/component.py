"""InfraValidator: `model` + raw `examples` -> `infra_blessing` (the serving check before push).

The SavedModel is loaded in a separate, clean Python process (TensorFlow only: none of this repository
importable) and sent the canary examples (contract.records.canary_rank) as serialized raw records; it
must answer each, and the pusher then requires the classes the evaluator predicted for the same records.
Latency per request is recorded (p50, p99). It needs nothing of the evaluator, so it runs beside it
(background), as TFX's InfraValidator and Evaluator do.
"""
import dataclasses

from components.infra_validator.section import InfraValidatorSection
from pipeline.spec import ComponentSpec


def _headline(f: dict) -> str:
    lat = f.get("latency_ms") or {}
    said = f"served {f['canaries']} canaries" if f["blessed"] else "FAILED: " + "; ".join(f.get("reasons", []))
    return said + (f", p50 {lat['p50']:.1f} ms" if lat else "")


SPEC = ComponentSpec(
    name="infra_validator",
    section=("infra_validator", InfraValidatorSection),
    inputs=("model", "examples"),
    outputs=("infra_blessing",),
    params=lambda cfg: {"split": cfg.evaluator.split, **dataclasses.asdict(cfg.infra_validator)},  # the evaluated split
    executor="components.infra_validator.executor:run",
    background=True,
    headline=_headline,
)
