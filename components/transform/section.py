"""The `transform:` section of pipeline.yaml, owned by this step (declared on its ComponentSpec; pipeline.yaml
documents every key with its default, the same as here)."""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class TransformSection:
    pass  # the preprocessing has no knobs yet; the section exists so pipeline.yaml can grow one
