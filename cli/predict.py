"""`python -m pipeline predict`: predictions for a large unlabelled set on any Beam runner (TFX's BulkInferrer).

    python -m pipeline predict --model latest --input images/ --output preds/ [--runner flink]

--model: a pushed version number, `latest` (the newest pushed version), a run id (that run's trained
model), or a SavedModel folder. --input: an IDX images file (.gz or not), a folder of PNG/JPEG images
(searched recursively; ids are the relative paths), or raw TFRecords (a file, a glob, or a folder such
as an examples artifact's Split-test/). The output folder is assembled aside and appears whole.
"""
from __future__ import annotations

import glob
import gzip
import json
import logging
import os
import time
import uuid

from contract import artifacts as files
from pipeline import fs
from pipeline.artifacts import read_file

log = logging.getLogger(__name__)


class PredictError(ValueError):
    """A model or an input that cannot be used; the message names it and says what was expected."""


def _local_or_uri(path: str) -> str:
    return path if fs.is_remote(path) else os.path.abspath(path)


def _is_model(path: str) -> bool:
    return fs.exists(fs.join(path, "saved_model.pb"))


def resolve_model(spec: str, cfg) -> str:
    """--model as a SavedModel folder (a local path or a gs:// URI)."""
    serving = cfg.pusher.serving_dir or fs.join(cfg.pipeline.root, "serving", cfg.data.dataset)
    if (fs.is_remote(spec) or os.path.isdir(spec)) and _is_model(spec):
        return _local_or_uri(spec)
    if spec == "latest" or spec.isdigit():
        versions = sorted(int(d) for d in fs.listdir(serving) if d.isdigit())
        if not versions:
            raise PredictError(f"--model {spec}: no pushed version under {serving}")
        version = versions[-1] if spec == "latest" else int(spec)
        if version not in versions:
            raise PredictError(f"--model {spec}: not a pushed version under {serving}; expected one of {versions}")
        return _local_or_uri(fs.join(serving, str(version)))
    summary = fs.join(cfg.pipeline.root, "runs", spec, "summary.json")
    if "/" not in spec and fs.exists(summary):
        with fs.open_file(summary) as f:
            model = json.load(f).get("artifacts", {}).get("model")
        if model and _is_model(model):
            return _local_or_uri(model)
        raise PredictError(f"--model {spec}: run {spec} has no trained model")
    raise PredictError(f"--model {spec}: not a SavedModel folder, a pushed version of {serving}, 'latest', "
                       f"nor a run id under {cfg.pipeline.root}/runs")


def class_names(model_dir: str, classes: int | None = None) -> tuple[str, ...]:
    if fs.exists(fs.join(model_dir, files.CLASS_NAMES.file)):   # written by the trainer's export
        return tuple(read_file(files.CLASS_NAMES, model_dir))
    return tuple(str(k) for k in range(classes or 10))


def _check_classes(spec: str, names: tuple[str, ...], cfg) -> None:
    """A model of another dataset answers in its own classes: refuse it rather than mislabel every input."""
    from data.registry import dataset_info
    expected = tuple(dataset_info(cfg.data).class_names)
    if tuple(names) != expected:
        show = lambda n: ", ".join(n[:3]) + (", ..." if len(n) > 3 else "")  # noqa: E731
        raise PredictError(f"--model {spec}: its classes ({show(names)}) are not those of data.dataset="
                           f"{cfg.data.dataset} ({show(expected)}); pass --set data.dataset=<the model's dataset>")


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
        images = sorted(os.path.relpath(os.path.join(d, f), path) for d, _, files in os.walk(path) for f in files
                        if is_image_name(f))
        if images:
            return "images", [(rel, os.path.abspath(os.path.join(path, rel))) for rel in images]
        files = sorted(os.path.join(d, f) for d, _, fs_ in os.walk(path) for f in fs_ if not f.startswith("."))
        if not files:
            raise PredictError(f"--input {path}: empty folder; expected images or raw TFRecord files")
        return "tfrecord", [os.path.abspath(f) for f in files]
    matches = sorted(glob.glob(path)) if any(c in path for c in "*?[") else ([path] if os.path.isfile(path) else [])
    if not matches:
        raise PredictError(f"--input {path}: no such file or folder")
    if len(matches) == 1 and _is_idx(matches[0]):
        from data.idx import _read_bytes, parse_idx
        n = len(parse_idx(_read_bytes(matches[0]), matches[0], expect_ndim=3))   # a clear error if malformed
        name = os.path.basename(matches[0]).split(".")[0]
        return "idx", [(os.path.abspath(matches[0]), name, s, min(s + 5000, n)) for s in range(0, n, 5000)]
    return "tfrecord", [os.path.abspath(m) for m in matches]


def _records(p, kind: str, items: list, dark_on_light: bool):
    """The Beam graph up to (id, serialized raw record), and the malformed inputs (or None)."""
    import apache_beam as beam

    from components.bulk_inferrer.transforms import MALFORMED, DecodeImages, read_idx_chunk, record_id

    if kind == "idx":
        return (p | "ListChunks" >> beam.Create(items) | "Spread" >> beam.Reshuffle()
                | "ReadIdx" >> beam.FlatMap(read_idx_chunk)), None
    if kind == "images":
        decoded = (p | "ListImages" >> beam.Create(items) | "Spread" >> beam.Reshuffle()
                   | "DecodeImages" >> DecodeImages(dark_on_light))
        return decoded.records, decoded[MALFORMED]
    return (p | "ListFiles" >> beam.Create(items) | "ReadRecords" >> beam.io.ReadAllFromTFRecord(with_filename=True)
            | "KeyById" >> beam.Map(record_id)), None


def _build(beam_args: list[str], temp: str, kind, items, model_dir, names, out, dark_on_light, batch_size,
           job: str = "predict"):
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from components.bulk_inferrer.transforms import Predict, to_csv, to_example

    extra = {} if any(a.startswith("--temp_location") for a in beam_args) else {"temp_location": temp}
    p = beam.Pipeline(options=PipelineOptions(beam_args, job_name=f"{job}-{uuid.uuid4().hex[:8]}",
                                              save_main_session=False, **extra))
    records, malformed = _records(p, kind, items, dark_on_light)
    rows = records | "Predict" >> Predict(model_dir, names, batch_size)
    header = ",".join(["id", "class", "class_name"] + [f"p_{n}" for n in names])
    _ = rows | "AsCsv" >> beam.Map(to_csv) | "WriteCsv" >> beam.io.WriteToText(
        fs.join(out, "predictions"), file_name_suffix=".csv", header=header)
    _ = rows | "AsExamples" >> beam.Map(to_example) | "WriteTFRecord" >> beam.io.WriteToTFRecord(
        fs.join(out, "predictions"), file_name_suffix=".tfrecord")
    if malformed is not None:
        _ = malformed | "WriteMalformed" >> beam.io.WriteToText(fs.join(out, "malformed"), file_name_suffix=".txt")
    return p


def _counters(result) -> dict:
    from apache_beam.metrics.metric import MetricsFilter

    from components.bulk_inferrer.transforms import NAMESPACE
    counts: dict = {}
    for c in result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]:
        counts[c.key.metric.name] = counts.get(c.key.metric.name, 0) + (c.committed or c.attempted or 0)
    return counts


def run_predict(cfg, beam_args: list[str], model: str, source: str, output: str, dark_on_light: bool = False,
                batch_size: int = 256) -> dict:
    """Predict every input; write DIR/predictions-*.csv and *.tfrecord, malformed-*.txt, summary.json."""
    from ops.workers import preflight, watchdog, worker_pool

    if fs.exists(output):
        raise PredictError(f"--output {output}: already exists; predictions never overwrite a folder")
    model_dir = resolve_model(model, cfg)
    names = class_names(model_dir)
    _check_classes(model, names, cfg)
    kind, items = plan_input(source)
    preflight(beam_args)
    staging = _local_or_uri(f"{output.rstrip('/')}.partial-{uuid.uuid4().hex[:6]}")
    start = time.perf_counter()
    try:
        fs.makedirs(staging)
        with worker_pool(cfg, beam_args) as pool:
            p = _build(beam_args, fs.join(staging, ".tmp"), kind, items, model_dir, names, staging, dark_on_light,
                       batch_size, job=f"{cfg.data.dataset}-predict".replace("_", "-"))
            from pipeline.spec import wait_watched
            result = p.run()
            watch = watchdog(beam_args, pool)
            result.wait_until_finish() if watch is None else wait_watched(result, watch)
        counts = _counters(result)
        fs.rmtree(fs.join(staging, ".tmp"))
        summary = {"model": model_dir, "input": os.path.abspath(source), "input_kind": kind,
                   "runner": next((a.split("=", 1)[1] for a in beam_args if a.startswith("--runner=")), "direct"),
                   "predictions": counts.get("predictions", 0), "malformed": counts.get("inputs_malformed", 0),
                   "class_names": list(names), "seconds": round(time.perf_counter() - start, 2)}
        with fs.open_file(fs.join(staging, "summary.json"), "w") as f:
            json.dump(summary, f, indent=2)
        # Locally the folder appears whole, or not at all; an object store moves file by file, summary.json
        # last: a folder without it is incomplete.
        fs.rename(staging, output, last=("summary.json",))
    finally:
        fs.rmtree(staging)
    return summary
