"""Every JSON file one step writes into an artifact and another step (or command) reads, named once, with
its version. Steps read and write them through the step API (pipeline/artifacts.py `write_file`,
`read_file`), which stamps `"schema": "<name>/<version>"` on write and refuses any other version on read
with one line; a list is kept under `"items"`. A file written before versions were recorded (no `schema`)
is version 1: its layout is the same.

    python -c "from contract.artifacts import FILES; print(*(f'{f.artifact}/{f.file} v{f.version}' for f in FILES), sep=chr(10))"

Change a file's layout: raise its version here, and update its writer and every reader in the same change.
"""
from __future__ import annotations

import dataclasses

from contract.errors import PipelineError


@dataclasses.dataclass(frozen=True)
class ArtifactFile:
    artifact: str                   # the output it lies in (a folder of that name in the step's run folder)
    file: str                       # its name inside that folder
    version: int
    writer: str
    readers: tuple[str, ...]
    holds: str

    @property
    def schema(self) -> str:
        return f"{self.file.rsplit('.', 1)[0]}/{self.version}"


class SchemaError(PipelineError, ValueError):
    """An artifact file whose version this code does not read (written by an older or newer pipeline)."""


COUNTS = ArtifactFile("examples", "counts.json", 1, "ingest", ("trainer", "evaluator", "report"),
                      "records per split: {split: count}")
BUCKET_EDGES = ArtifactFile("examples", "bucket_edges.json", 1, "ingest", ("report",),
                            "the train split's quantile edges of each image property (the slices)")
DATA_VERSION = ArtifactFile("examples", "data_version.json", 1, "ingest", ("statistics",),
                            "the source's digest, the split digest and the record counts")
STATISTICS = ArtifactFile("statistics", "statistics.json", 1, "statistics", ("validator", "report", "cli stats"),
                          "per split: label and pixel histograms, properties, duplicates")
ANOMALIES = ArtifactFile("anomalies", "anomalies.json", 1, "validator", ("report",),
                         "passed, overridden, the anomalies and the bounds they were checked against")
HISTORY = ArtifactFile("model_run", "history.json", 1, "trainer", ("report",),
                       "per epoch: loss, accuracy, val_loss, val_accuracy")
BEST_HYPERPARAMETERS = ArtifactFile("best_hyperparameters", "best_hyperparameters.json", 1, "tuner",
                                    ("trainer", "report", "cli compare"),
                                    "values: the chosen trainer keys; trial, score (eval accuracy), defaults they replace")
TRIALS = ArtifactFile("trials", "trials.json", 1, "tuner", ("report",),
                      "every trial: number, values, status (complete, stopped early, failed), reason, the eval "
                      "accuracy after each epoch, score, seconds, rungs, the workers that ran it")
CLASS_NAMES = ArtifactFile("model", "assets.extra/class_names.json", 1, "trainer", ("cli predict",),
                           "the model's class names in label order (a list)")
RESULTS = ArtifactFile("evaluation", "results.json", 1, "evaluator", ("report",),
                       "accuracy, its interval, slices, confusion matrix, the split and why it was chosen")
MISCLASSIFIED = ArtifactFile("evaluation", "misclassified.json", 1, "evaluator", ("report",),
                             "the gallery of wrong predictions (a list)")
CANARIES = ArtifactFile("evaluation", "canaries.json", 1, "evaluator", ("pusher",),
                        "the split, and the records the serving check replays with the classes predicted here")
BLESSING = ArtifactFile("blessing", "blessing.json", 1, "evaluator", ("pusher", "report"),
                        "blessed, and the thresholds and baseline it was judged by")
INFRA_BLESSING = ArtifactFile("infra_blessing", "infra_blessing.json", 1, "infra_validator", ("pusher", "report"),
                              "blessed, the served classes of the canaries, latency")
PUSH = ArtifactFile("pushed", "push.json", 1, "pusher", ("report",), "pushed or not, why, the version and where")
METRICS = ArtifactFile("report", "metrics.json", 1, "report", ("cli compare",),
                       "everything the report shows, for machines")

FILES = (COUNTS, BUCKET_EDGES, DATA_VERSION, STATISTICS, ANOMALIES, HISTORY, BEST_HYPERPARAMETERS, TRIALS, CLASS_NAMES, RESULTS, MISCLASSIFIED,
         CANARIES, BLESSING, INFRA_BLESSING, PUSH, METRICS)


def stamped(spec: ArtifactFile, payload) -> dict:
    """What is written: the payload with its schema (a list under "items")."""
    if isinstance(payload, list):
        return {"schema": spec.schema, "items": payload}
    if not isinstance(payload, dict):
        raise TypeError(f"{spec.file}: a JSON object or list, not {type(payload).__name__}")
    return {"schema": spec.schema, **{k: v for k, v in payload.items() if k != "schema"}}


def unstamped(spec: ArtifactFile, data, where: str):
    """The payload of what was read at `where`; SchemaError unless it is this code's version of the file."""
    found = data.get("schema", f"{spec.schema.split('/')[0]}/1") if isinstance(data, dict) else None
    if isinstance(data, list) and spec.version == 1:   # a list written before versions were recorded
        return data
    if found != spec.schema:
        raise SchemaError(f"{where}: schema {found}, but this pipeline reads {spec.schema} (written by another "
                          f"version of it: run the step that writes {spec.file} again)")
    if set(data) == {"schema", "items"}:
        return data["items"]
    return {k: v for k, v in data.items() if k != "schema"}
