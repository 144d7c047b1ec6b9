"""Pusher: `model` + `blessing` -> `pushed` (push.json); a blessed model is copied to the serving folder."""
from pipeline.spec import ComponentSpec

SPEC = ComponentSpec(
    name="pusher",
    inputs=("model", "blessing"),
    outputs=("pushed",),
    params=lambda cfg: {"serving_dir": cfg.pusher.serving_dir, "root": cfg.pipeline.root, "dataset": cfg.data.dataset},
    executor="components.pusher.executor:run",
)
