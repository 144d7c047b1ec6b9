"""The pipeline's components in dependency order, with a check that every input has a producer."""
from __future__ import annotations

from components.evaluator.component import SPEC as EVALUATOR
from components.ingest.component import SPEC as INGEST
from components.pusher.component import SPEC as PUSHER
from components.report.component import SPEC as REPORT
from components.statistics.component import SPEC as STATISTICS
from components.trainer.component import SPEC as TRAINER
from components.transform.component import SPEC as TRANSFORM
from components.validator.component import SPEC as VALIDATOR

EXTERNAL = ("raw_data",)


def components():
    """Ingest -> Statistics -> Validator (the gate) -> Transform -> Trainer -> Evaluator -> Pusher -> Report."""
    dag = [INGEST, STATISTICS, VALIDATOR, TRANSFORM, TRAINER, EVALUATOR, PUSHER, REPORT]
    produced = set(EXTERNAL)
    for spec in dag:
        missing = set(spec.inputs) - produced
        if missing:
            raise ValueError(f"component {spec.name}: inputs {sorted(missing)} have no upstream producer")
        produced |= set(spec.outputs)
    return dag
