"""BulkInferrer executor: plan the input, then one Beam job on the step's runner: read, predict with the
model's serving_default (batches), write CSV and TFRecord rows, and the malformed inputs.

    python -m pipeline predict --model latest --input images/ --output preds/ [--runner flink]
"""
from __future__ import annotations

import glob
import gzip
import os

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter

from components.bulk_inferrer.rows import FramedRecordsSink
from components.bulk_inferrer.transforms import (
    MALFORMED,
    NAMESPACE,
    DecodeImages,
    Predict,
    read_idx_chunk,
    read_tfrecord_batches,
)
from contract import artifacts as files
from contract.errors import PipelineError
from pipeline import fs
from pipeline.artifacts import read_file


class PredictError(PipelineError, ValueError):
    """A model or an input that cannot be used; the message names it and says what was expected."""


def class_names(model_dir: str) -> tuple[str, ...]:
    if not fs.exists(fs.join(model_dir, files.CLASS_NAMES.file)):   # written by the trainer's export
        raise PredictError(f"--model {model_dir}: it has no class names ({files.CLASS_NAMES.file}); "
                           f"expected a model this pipeline's trainer exported")
    return tuple(read_file(files.CLASS_NAMES, model_dir))


def check_classes(model_dir: str, names: tuple[str, ...], dataset: str, expected: tuple[str, ...]) -> None:
    """A model of another dataset answers in its own classes: refuse it rather than mislabel every input."""
    if tuple(names) != tuple(expected):
        show = lambda n: ", ".join(n[:3]) + (", ..." if len(n) > 3 else "")  # noqa: E731
        raise PredictError(f"--model {model_dir}: its classes ({show(names)}) are not those of data.dataset="
                           f"{dataset} ({show(expected)}); pass --set data.dataset=<the model's dataset>")


def _is_idx(path: str) -> bool:
    with open(path, "rb") as f:
        head = f.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    try:
        with opener(path, "rb") as f:
            return f.read(4) == b"\x00\x00\x08\x03"
    except OSError:
        return False


def plan_input(path: str) -> tuple[str, list]:
    """-> (kind, items): ('idx', [(path, name, start, end)]), ('images', [(id, path)]) or ('tfrecord', [files])."""
    from data.images import is_image_name

    if os.path.isdir(path):
        images = sorted(os.path.relpath(os.path.join(d, f), path) for d, _, names in os.walk(path) for f in names
                        if is_image_name(f))
        if images:
            return "images", [(rel, os.path.abspath(os.path.join(path, rel))) for rel in images]
        found = sorted(os.path.join(d, f) for d, _, names in os.walk(path) for f in names if not f.startswith("."))
        if not found:
            raise PredictError(f"--input {path}: empty folder; expected images or raw TFRecord files")
        return "tfrecord", [os.path.abspath(f) for f in found]
    matches = sorted(glob.glob(path)) if any(c in path for c in "*?[") else ([path] if os.path.isfile(path) else [])
    if not matches:
        raise PredictError(f"--input {path}: no such file or folder")
    if len(matches) == 1 and _is_idx(matches[0]):
        from data.idx import _read_bytes, parse_idx
        n = len(parse_idx(_read_bytes(matches[0]), matches[0], expect_ndim=3))   # a clear error if malformed
        name = os.path.basename(matches[0]).split(".")[0]
        return "idx", [(os.path.abspath(matches[0]), name, s, min(s + 5000, n)) for s in range(0, n, 5000)]
    return "tfrecord", [os.path.abspath(m) for m in matches]


def _batches(p, kind: str, items: list, dark_on_light: bool, size: int):
    """The Beam graph up to batches of (id, serialized raw record), and the malformed inputs (or None)."""
    listed = p | "List" >> beam.Create(items) | "Spread" >> beam.Reshuffle()
    if kind == "idx":
        return listed | "ReadIdx" >> beam.FlatMap(read_idx_chunk, size), None
    if kind == "images":
        decoded = listed | "DecodeImages" >> DecodeImages(dark_on_light)
        # fixed-size batches: BatchElements would otherwise start at 1 and grow, paying per call meanwhile
        return (decoded.records | "Batch" >> beam.BatchElements(min_batch_size=size, max_batch_size=size),
                decoded[MALFORMED])
    return listed | "ReadRecords" >> beam.FlatMap(read_tfrecord_batches, size), None


def _counters(result) -> dict:
    counts: dict = {}
    for c in result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]:
        counts[c.key.metric.name] = counts.get(c.key.metric.name, 0) + (c.committed or c.attempted or 0)
    return counts


def run(ctx, inputs, outputs) -> dict:
    cfg = ctx.params
    model_dir, out = inputs["model"], outputs["predictions"]
    names = class_names(model_dir)
    check_classes(model_dir, names, cfg.dataset, cfg.class_names)
    kind, items = plan_input(inputs["inference_data"])
    p = ctx.beam_pipeline("predict")
    batches, malformed = _batches(p, kind, items, cfg.dark_on_light, cfg.batch_size)
    rows = batches | "Predict" >> Predict(model_dir, names)
    header = ",".join(["id", "class", "class_name"] + [f"p_{n}" for n in names])
    _ = rows | "CsvLines" >> beam.Map(lambda r: r[0]) | "WriteCsv" >> beam.io.WriteToText(
        fs.join(out, "predictions"), file_name_suffix=".csv", header=header)
    _ = rows | "Frames" >> beam.Map(lambda r: r[1]) | "WriteTFRecord" >> beam.io.Write(
        FramedRecordsSink(fs.join(out, "predictions")))
    if malformed is not None:
        _ = malformed | "WriteMalformed" >> beam.io.WriteToText(fs.join(out, "malformed"), file_name_suffix=".txt")
    counts = _counters(ctx.run_beam(p))
    return {"model": model_dir, "input": inputs["inference_data"], "input_kind": kind,
            "predictions": counts.get("predictions", 0), "malformed": counts.get("inputs_malformed", 0),
            "class_names": list(names)}
