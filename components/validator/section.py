"""The `validation:` section of pipeline.yaml, owned by this step (declared on its ComponentSpec; pipeline.yaml
documents every key with its default, the same as here)."""
from __future__ import annotations

import dataclasses

from pipeline.sections import contained


@dataclasses.dataclass(frozen=True)
class ValidationSection:
    expectations: str = "expectations/{dataset}.yaml"   # generated from the first run when missing
    allow_anomalies: bool = False       # true: record anomalies and train anyway (an override)

    # key -> (what a value must satisfy, what is expected: the error's words)
    CHECKS = {
        "expectations": (lambda v: contained(v) and (v.count("{") == v.count("}") <= 1)
                                        and "{" not in v.replace("{dataset}", ""), "a path without '..'; '{dataset}' may appear"),
    }
