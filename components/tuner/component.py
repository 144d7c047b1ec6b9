"""Tuner: `transformed_examples` + `transform_graph` (+ `examples`: the train split's size) -> `best_hyperparameters`
(the trainer takes them: cli/dag.py) and `trials`. In the run when pipeline.yaml says tuner.enabled (the `tune`
profile); it chooses on the eval split only."""
import dataclasses

from components.tuner.section import TunerSection
from data.registry import dataset_info
from modeling.precision import resolve
from pipeline.spec import ComponentSpec


def _headline(f: dict) -> str:
    return (f"{f['trials']} trials ({f['complete']} complete, {f['stopped_early']} stopped early, {f['failed']} failed), "
            f"best: trial {f['best_trial']}, eval accuracy {f['best_eval_accuracy']:.4f}")


SPEC = ComponentSpec(
    name="tuner",
    section=("tuner", TunerSection),
    inputs=("transformed_examples", "transform_graph", "examples"),
    outputs=("best_hyperparameters", "trials"),
    # the trainer's section is the base every trial starts from: a trial's values replace those keys
    params=lambda cfg: {"seed": cfg.pipeline.seed, "tuner": dataclasses.asdict(cfg.tuner),
                        "trainer": {**dataclasses.asdict(cfg.trainer), **resolve(cfg.trainer.precision),
                                    "seed": cfg.pipeline.seed, "dataset": cfg.data.dataset,
                                    "class_names": dataset_info(cfg.data).class_names,
                                    "mirror_invariant": dataset_info(cfg.data).mirror_invariant}},
    executor="components.tuner.executor:run",
    headline=_headline,
)
