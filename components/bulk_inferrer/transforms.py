"""The Beam part of bulk inference (TFX's BulkInferrer): inputs -> serialized raw records -> RunInference
with the model's serving_default -> prediction rows. Testable with TestPipeline, no orchestrator:

    python -m pytest tests/test_predict.py
"""
from __future__ import annotations

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult, RunInference

from contract import wire
from contract.records import IMAGE_ID, PIXELS, SERVING_INPUT, SERVING_SIGNATURE

NAMESPACE = "predict"
MALFORMED = "malformed"


def pixels_record(image: np.ndarray) -> bytes:
    """A raw record with only what serving needs (the pixels): no label is invented for unlabelled data."""
    return wire.sequence_example({}, {PIXELS: wire.float_rows(image)})


class ServingModelHandler(ModelHandler):
    """RunInference's handler for our SavedModel: batches of serialized raw records in, probabilities out."""

    def __init__(self, model_dir: str, batch_size: int = 256):
        # fixed-size batches: BatchElements would otherwise start at 1 and grow, paying per call meanwhile
        super().__init__(min_batch_size=batch_size, max_batch_size=batch_size)
        self._model_dir = model_dir

    def load_model(self):
        import tensorflow as tf
        return tf.saved_model.load(self._model_dir, tags=["serve"]).signatures[SERVING_SIGNATURE]

    def run_inference(self, batch, model, inference_args=None):
        import tensorflow as tf
        probs = model(**{SERVING_INPUT: tf.constant(list(batch))})["probabilities"].numpy()
        return [PredictionResult(example, p) for example, p in zip(batch, probs)]

    def get_metrics_namespace(self) -> str:
        return NAMESPACE


def read_idx_chunk(chunk):
    """(path, name, start, end) -> (id, record) for each image of an IDX images file."""
    from data.idx import _read_bytes, parse_idx

    path, name, start, end = chunk
    images = parse_idx(_read_bytes(path), path, expect_ndim=3)
    for i in range(start, end):
        yield f"{name}/{i:05d}", pixels_record(images[i])


class _DecodeImage(beam.DoFn):
    """(id, path) -> (id, record); an unreadable image goes to MALFORMED with its file name."""

    def __init__(self, dark_on_light: bool):
        self._dark = dark_on_light
        self._bad = Metrics.counter(NAMESPACE, "inputs_malformed")

    def process(self, item):
        from apache_beam.io.filesystems import FileSystems

        from data.images import ImageError, to_mnist
        image_id, path = item
        try:
            with FileSystems.open(path, compression_type="uncompressed") as f:
                yield image_id, pixels_record(to_mnist(f.read(), self._dark))
        except (ImageError, OSError) as e:
            self._bad.inc()
            yield beam.pvalue.TaggedOutput(MALFORMED, f"{path}: {e}")


def record_id(file_and_record) -> tuple[str, bytes]:
    """(file, serialized raw record) -> (its image_id, record); a record without an id is named by its file
    and a digest of its bytes (stable on every runner)."""
    import hashlib

    from tensorflow.core.example.example_pb2 import SequenceExample
    path, record = file_and_record
    ids = SequenceExample.FromString(record).context.feature[IMAGE_ID].bytes_list.value
    image_id = ids[0].decode() if ids else ""
    return image_id or f"{path.rsplit('/', 1)[-1]}#{hashlib.sha256(record).hexdigest()[:16]}", record


@beam.ptransform_fn
def DecodeImages(paths, dark_on_light: bool = False):
    """(id, image path) -> main output (id, record), plus MALFORMED."""
    return paths | "Decode" >> beam.ParDo(_DecodeImage(dark_on_light)).with_outputs(MALFORMED, main="records")


def _row(keyed, class_names):
    image_id, result = keyed
    probs = np.asarray(result.inference, dtype=np.float64)
    k = int(np.argmax(probs))
    name = class_names[k] if k < len(class_names) else str(k)
    return image_id, k, name, probs


def to_csv(row) -> str:
    image_id, k, name, probs = row
    quoted = '"' + image_id.replace('"', '""') + '"' if any(c in image_id for c in ',"\n') else image_id
    name = '"' + name.replace('"', '""') + '"' if any(c in name for c in ',"\n') else name
    return ",".join([quoted, str(k), name] + [f"{p:.6f}" for p in probs])


def to_example(row) -> bytes:
    image_id, k, name, probs = row
    return wire.example({"id": wire.bytes_feature((image_id.encode(),)), "class": wire.int64_feature((k,)),
                         "class_name": wire.bytes_feature((name.encode(),)),
                         "probabilities": wire.float_feature(tuple(float(p) for p in probs))})


@beam.ptransform_fn
def Predict(records, model_dir: str, class_names: tuple, batch_size: int = 256):
    """(id, serialized raw record) -> (id, class, class name, probabilities), by RunInference."""
    counted = Metrics.counter(NAMESPACE, "predictions")

    def count(row):
        counted.inc()
        return row

    return (records
            | "RunInference" >> RunInference(KeyedModelHandler(ServingModelHandler(model_dir, batch_size)))
            | "ToRows" >> beam.Map(_row, tuple(class_names))
            | "Count" >> beam.Map(count))
