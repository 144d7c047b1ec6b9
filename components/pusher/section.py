"""The `pusher:` section of pipeline.yaml, owned by this step (declared on its ComponentSpec; pipeline.yaml
documents every key with its default, the same as here)."""
from __future__ import annotations

import dataclasses
from typing import Optional

from pipeline.sections import STORAGE, contained, storage


@dataclasses.dataclass(frozen=True)
class PusherSection:
    serving_dir: Optional[str] = None   # default <root>/serving/<dataset>; versions go in numbered folders

    # key -> (what a value must satisfy, what is expected: the error's words)
    CHECKS = {
        "serving_dir": (lambda v: storage(v) and contained(v), STORAGE + ", without '..'"),
    }
