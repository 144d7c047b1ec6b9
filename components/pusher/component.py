"""Pusher: `model` + `blessing` + `infra_blessing` + `evaluation` -> `pushed`; a model blessed by
the evaluator and by the serving check, whose served canary classes are the evaluator's, is copied to the
serving folder."""
from components.pusher.section import PusherSection
from pipeline.spec import ComponentSpec

SPEC = ComponentSpec(
    name="pusher",
    section=("pusher", PusherSection),
    inputs=("model", "blessing", "infra_blessing", "evaluation"),   # evaluation: its canaries
    outputs=("pushed",),
    params=lambda cfg: {"serving_dir": cfg.pusher.serving_dir, "root": cfg.pipeline.root, "dataset": cfg.data.dataset},
    executor="components.pusher.executor:run",
    headline=lambda f: f"pushed version {f['version']}" if f["pushed"] else "not pushed",
    summarize=lambda f: {"pushed": f},
)
