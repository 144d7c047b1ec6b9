"""The pipeline's components in dependency order, with a check that every input has a producer."""
from __future__ import annotations

from components.bulk_inferrer.component import SPEC as BULK_INFERRER
from components.evaluator.component import SPEC as EVALUATOR
from components.infra_validator.component import SPEC as INFRA_VALIDATOR
from components.ingest.component import SPEC as INGEST
from components.pusher.component import SPEC as PUSHER
from components.report.component import SPEC as REPORT
from components.statistics.component import SPEC as STATISTICS
from components.trainer.component import SPEC as TRAINER
from components.transform.component import SPEC as TRANSFORM
from components.validator.component import SPEC as VALIDATOR

EXTERNAL = ("raw_data",)


def components():
    """Ingest -> Statistics (in the background, its own process) and Transform -> Validator (the gate)
    -> Trainer -> InfraValidator (in the background) and Evaluator -> Pusher -> Report."""
    return check([INGEST, STATISTICS, TRANSFORM, VALIDATOR, TRAINER, INFRA_VALIDATOR, EVALUATOR, PUSHER, REPORT])


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
