"""Trainer: `transformed_examples` + `transform_graph` -> `model` (SavedModel) and `model_run` (logs).

TUNED is the same step in a run with the tuner (cli/dag.py): it also takes `best_hyperparameters`, whose values
replace those keys of the trainer section."""
import dataclasses

from components.trainer.section import TrainerSection
from data.registry import dataset_info
from modeling.precision import resolve
from pipeline.spec import ComponentSpec


def _headline(f: dict) -> str:
    best = f" (best {f['best_epoch']})" if f.get("best_epoch") else ""
    acc = f.get("eval_accuracy_keras")
    tuned = f", tuned {len(f['tuned'])} values" if f.get("tuned") else ""
    return f"{f['epochs']} epochs{best}, {f.get('precision', '')}{tuned}" + (f", eval accuracy {acc:.4f}" if acc is not None else "")


SPEC = ComponentSpec(
    name="trainer",
    section=("trainer", TrainerSection),
    inputs=("transformed_examples", "transform_graph", "examples"),   # examples: its record counts (steps per epoch)
    outputs=("model", "model_run"),
    # the dataset decides the class count and what 'augment: auto' may do (data/registry.py)
    params=lambda cfg: {"seed": cfg.pipeline.seed, "dataset": cfg.data.dataset,
                        "class_names": dataset_info(cfg.data).class_names,
                        "mirror_invariant": dataset_info(cfg.data).mirror_invariant, **dataclasses.asdict(cfg.trainer),
                        **resolve(cfg.trainer.precision)},   # `auto` decided here, from this machine
    executor="components.trainer.executor:run",
    headline=_headline,
)
TUNED = dataclasses.replace(SPEC, inputs=SPEC.inputs + ("best_hyperparameters",))
