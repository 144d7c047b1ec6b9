"""The pipeline's components in dependency order, with a check that every input has a producer."""
from __future__ import annotations

from components.bulk_inferrer.component import SPEC as BULK_INFERRER
from components.evaluator.component import SPEC as EVALUATOR
from components.infra_validator.component import SPEC as INFRA_VALIDATOR
from components.ingest.component import SPEC as INGEST
from components.pusher.component import SPEC as PUSHER
from components.report.component import SPEC as REPORT
from components.report.component import TUNED as TUNED_REPORT
from components.statistics.component import SPEC as STATISTICS
from components.trainer.component import SPEC as TRAINER
from components.trainer.component import TUNED as TUNED_TRAINER
from components.transform.component import SPEC as TRANSFORM
from components.tuner.component import SPEC as TUNER
from components.validator.component import SPEC as VALIDATOR

EXTERNAL = ("raw_data",)


def components(cfg=None):
    """Ingest -> Statistics (in the background, its own process) and Transform -> Validator (the gate)
    -> [Tuner, when cfg.tuner.enabled] -> Trainer -> InfraValidator (in the background) and Evaluator -> Pusher
    -> Report. Without a cfg: the default DAG."""
    tuned = cfg is not None and cfg.tuner.enabled
    middle = [TUNER, TUNED_TRAINER, INFRA_VALIDATOR, EVALUATOR, PUSHER, TUNED_REPORT] if tuned else \
        [TRAINER, INFRA_VALIDATOR, EVALUATOR, PUSHER, REPORT]
    return check([INGEST, STATISTICS, TRANSFORM, VALIDATOR, *middle])


def every_step():
    """Every step any DAG here may hold (their config sections, `--invalidate`'s names)."""
    return [INGEST, STATISTICS, TRANSFORM, VALIDATOR, TUNER, TRAINER, INFRA_VALIDATOR, EVALUATOR, PUSHER, REPORT,
            BULK_INFERRER]


def predict_dag():
    """`python -m pipeline predict`: BulkInferrer alone, from a given model and input (pipeline/runner.py run)."""
    return check([BULK_INFERRER], external=("model", "inference_data"))


def check(dag, external=EXTERNAL):
    """Every input has an upstream producer, and no two components (nor an external source) publish one name."""
    producer = {name: "an external source" for name in external}
    names = set()
    for spec in dag:
        if spec.name in names:
            raise ValueError(f"component {spec.name}: two components have this name")
        names.add(spec.name)
        missing = set(spec.inputs) - set(producer)
        if missing:
            raise ValueError(f"component {spec.name}: inputs {sorted(missing)} have no upstream producer")
        for out in spec.outputs:
            if out in producer:
                raise ValueError(f"component {spec.name}: output {out!r} is already published by {producer[out]}")
            producer[out] = f"component {spec.name}"
    return dag
