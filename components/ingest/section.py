"""The `ingest:` section of pipeline.yaml, owned by this step (declared on its ComponentSpec; pipeline.yaml
documents every key with its default, the same as here)."""
from __future__ import annotations

import dataclasses

from pipeline.sections import ConfigError


@dataclasses.dataclass(frozen=True)
class IngestSection:
    eval_fraction: float = 0.1         # of the training file, by a stable hash: chooses the model (early stopping)
    test_fraction: float = 0.1         # only where the source has no test set: this share of the training file,
                                       # by the same hash, is the test split, never used to choose the model
    num_shards: int = 4
    chunk_size: int = 2500              # images per Beam work item
    max_malformed: int = 0
    slice_buckets: int = 4              # quantile buckets per image property (slices), fitted on train

    # key -> (what a value must satisfy, what is expected: the error's words)
    CHECKS = {
        "eval_fraction": (lambda v: 0 < v < 1, "a fraction strictly between 0 and 1"),
        "test_fraction": (lambda v: 0 < v < 1, "a fraction strictly between 0 and 1"),
        "num_shards": (lambda v: 1 <= v <= 1024, "1..1024"),
        "chunk_size": (lambda v: v >= 1, "at least 1"),
        "max_malformed": (lambda v: v >= 0, "at least 0"),
        "slice_buckets": (lambda v: 2 <= v <= 20, "2..20"),
    }

    def validate(self) -> None:
        """What no single key's range says: eval and test are both carved from the training file."""
        if self.eval_fraction + self.test_fraction >= 1:
            raise ConfigError(f"ingest.test_fraction: {self.test_fraction} with ingest.eval_fraction "
                              f"{self.eval_fraction} leaves no training data; expected a sum below 1")
