"""The `infra_validator:` section of pipeline.yaml, owned by this step (declared on its ComponentSpec; pipeline.yaml
documents every key with its default, the same as here)."""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class InfraValidatorSection:
    """The serving check before push (components/infra_validator)."""
    canaries: int = 32                  # examples of the test split sent to the model served from its files
    batch_size: int = 8                 # canaries per request
    repeats: int = 10                   # passes over the canaries, for the latency percentiles
    timeout_s: float = 300.0            # the clean serving process must finish within this

    # key -> (what a value must satisfy, what is expected: the error's words)
    CHECKS = {
        "canaries": (lambda v: 1 <= v <= 1000, "1..1000"),
        "batch_size": (lambda v: v >= 1, "at least 1"),
        "repeats": (lambda v: 1 <= v <= 1000, "1..1000"),
        "timeout_s": (lambda v: v > 0, "a positive number of seconds"),
    }
