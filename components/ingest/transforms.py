"""Beam transforms of the ingest step, each testable with TestPipeline and no orchestrator.

    python -m pytest tests/test_ingest.py
"""
from __future__ import annotations

import functools

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from contract.records import SPLITS, STEPS, WIDTH, stable_fraction, to_sequence_example

MALFORMED = "malformed"
NAMESPACE = "ingest"


def split_of(source: str, image_id: str, eval_fraction: float, seed: int) -> str:
    """'test' for the test file; otherwise 'eval' or 'train' by a stable hash of the image id."""
    if source == "test":
        return "test"
    return "eval" if stable_fraction(image_id, seed) < eval_fraction else "train"


@functools.lru_cache(maxsize=4)
def _load_pair(images_path: str, labels_path: str):
    # Cached per worker process: each chunk of a file reuses one decompressed, validated copy.
    from data.idx import read_idx_pair
    return read_idx_pair(images_path, labels_path)


def read_chunk(chunk):
    """(source, images_path, labels_path, start, end) -> (source, index, image, label, properties) items.

    Image properties are computed for the whole chunk at once (vectorized NumPy), not per image.
    """
    from contract.features import properties

    source, images_path, labels_path, start, end = chunk
    images, labels = _load_pair(images_path, labels_path)
    props = properties(images[start:end])
    for i in range(start, end):
        yield source, i, images[i], int(labels[i]), {k: float(v[i - start]) for k, v in props.items()}


class _ToRecord(beam.DoFn):
    """Validate one image and serialize it; bad ones go to the MALFORMED output with a reason."""

    def __init__(self, dataset: str, eval_fraction: float, seed: int, edges: dict | None):
        self._dataset, self._fraction, self._seed, self._edges = dataset, eval_fraction, seed, edges
        self._read = Metrics.counter(NAMESPACE, "records_read")
        self._bad = Metrics.counter(NAMESPACE, "records_malformed")
        self._written = {s: Metrics.counter(NAMESPACE, f"records_{s}") for s in SPLITS}

    def process(self, item):
        source, index, image, label = item[:4]
        props = item[4] if len(item) > 4 else None  # precomputed per chunk by read_chunk
        self._read.inc()
        image_id = f"{self._dataset}/{source}/{index:05d}"
        problem = _problem(image, label)
        if problem:
            self._bad.inc()
            yield beam.pvalue.TaggedOutput(MALFORMED, f"{image_id}: {problem}")
            return
        split = split_of(source, image_id, self._fraction, self._seed)
        self._written[split].inc()
        record = to_sequence_example(image, label, image_id, self._edges, props)
        yield beam.pvalue.TaggedOutput(split, (image_id, record))


def _problem(image, label) -> str:
    shape = getattr(image, "shape", None)
    if shape != (STEPS, WIDTH):
        return f"image shape {shape}; expected ({STEPS}, {WIDTH})"
    if getattr(image, "dtype", None) != np.uint8:
        return f"image dtype {image.dtype}; expected uint8"
    if not 0 <= int(label) <= 9:
        return f"label {label}; expected 0..9"
    return ""


@beam.ptransform_fn
def ImagesToRecords(items, dataset: str, eval_fraction: float, seed: int, edges: dict | None = None):
    """(source, index, image, label[, properties]) -> tagged outputs train/eval/test of (image_id, bytes),
    plus malformed.

    edges: {slice property: bucket edges} (see features.py), used for the `<property>_bucket` features.
    """
    return items | "ValidateAndSerialize" >> beam.ParDo(
        _ToRecord(dataset, eval_fraction, seed, edges)).with_outputs(MALFORMED, *SPLITS)
