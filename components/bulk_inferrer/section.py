"""The `predict:` section of pipeline.yaml, owned by this step (declared on its ComponentSpec; pipeline.yaml
documents every key with its default, the same as here)."""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class PredictSection:
    """`python -m pipeline predict` (components/bulk_inferrer); its flags set these keys."""
    batch_size: int = 256               # records per inference call (--batch-size)
    dark_on_light: bool = False         # input images are dark ink on light paper, inverted on reading

    # key -> (what a value must satisfy, what is expected: the error's words)
    CHECKS = {
        "batch_size": (lambda v: 1 <= v <= 65536, "1..65536"),
    }
