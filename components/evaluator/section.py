"""The `evaluator:` section of pipeline.yaml, owned by this step (declared on its ComponentSpec; pipeline.yaml
documents every key with its default, the same as here)."""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class EvaluatorSection:
    split: str = "test"                 # falls back to 'eval' when the dataset has no test file
    min_accuracy: float = 0.5           # blessing: overall accuracy must reach this
    max_drop: float = 0.01              # blessing: overall accuracy may fall at most this below the baseline
    max_slice_drop: float = 0.05        # ... and any slice with >= min_slice_size examples at most this
    min_slice_size: int = 30            # smaller slices are flagged in the report, not gated
    require_baseline: bool = False      # True: no blessing without a baseline to compare with
    gallery_size: int = 40              # misclassified images in the report
    batch_size: int = 128               # TFMA inference batch

    # key -> (what a value must satisfy, what is expected: the error's words)
    CHECKS = {
        "split": (lambda v: v in ("test", "eval"), "'test' or 'eval'"),
        "min_accuracy": (lambda v: 0 <= v <= 1, "0..1"),
        "max_drop": (lambda v: 0 <= v <= 1, "0..1"),
        "max_slice_drop": (lambda v: 0 <= v <= 1, "0..1"),
        "min_slice_size": (lambda v: v >= 1, "at least 1"),
        "gallery_size": (lambda v: 0 <= v <= 1000, "0..1000"),
        "batch_size": (lambda v: v >= 1, "at least 1"),
    }
