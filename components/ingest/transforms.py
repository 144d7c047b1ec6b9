"""Beam transforms of the ingest step, each testable with TestPipeline and no orchestrator.

    python -m pytest tests/test_ingest.py
"""
from __future__ import annotations

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from contract.records import SPLITS, STEPS, WIDTH, stable_fraction, to_sequence_example

MALFORMED = "malformed"
NAMESPACE = "ingest"


def split_of(source: str, image_id: str, eval_fraction: float, seed: int, test_fraction: float = 0.0) -> str:
    """'test' for the test file; otherwise 'eval', 'test' (test_fraction > 0: a source without a test file)
    or 'train' by a stable hash of the image id."""
    if source == "test":
        return "test"
    f = stable_fraction(image_id, seed)
    return "eval" if f < eval_fraction else "test" if f < eval_fraction + test_fraction else "train"


def load_chunk(path: str, start: int, end: int):
    """The images, labels, image properties and splits that ingest's plan wrote to one chunk file."""
    import io

    from apache_beam.io.filesystems import FileSystems

    from contract.records import SLICE_PROPERTIES
    with FileSystems.open(path, compression_type="uncompressed") as f:
        data = np.load(io.BytesIO(f.read()))
        images, labels = data["images"], data["labels"].astype(np.int64)
        props = {k: data[f"prop_{k}"] for k in SLICE_PROPERTIES}
        splits = data["splits"].tolist()
    if (images.shape != (end - start, STEPS, WIDTH) or images.dtype != np.uint8
            or len(labels) != end - start or len(splits) != end - start):
        raise ValueError(f"{path}: images {images.shape} {images.dtype}, {len(labels)} labels and {len(splits)} "
                         f"splits; expected ({end - start}, {STEPS}, {WIDTH}) uint8 and {end - start} of each")
    return images, labels, props, splits


class _ChunkToRecords(beam.DoFn):
    """(source, chunk file, start, end) -> per split, one list of (image_id, record) for the whole chunk,
    encoded at once (contract/record_batch.py); a label out of range goes to MALFORMED with a reason."""

    def __init__(self, dataset: str, edges: dict, num_classes: int, progress=None):
        self._dataset, self._edges, self._classes, self._progress = dataset, edges, num_classes, progress
        self._read = Metrics.counter(NAMESPACE, "records_read")
        self._bad = Metrics.counter(NAMESPACE, "records_malformed")
        self._written = {s: Metrics.counter(NAMESPACE, f"records_{s}") for s in SPLITS}

    def process(self, chunk):
        from contract.record_batch import to_sequence_examples

        source, path, start, end = chunk
        images, labels, props, splits = load_chunk(path, start, end)   # the plan decided the splits
        ids = [f"{self._dataset}/{source}/{i:05d}" for i in range(start, end)]
        self._read.inc(len(ids))
        good = (labels >= 0) & (labels < self._classes)
        for i in np.flatnonzero(~good):
            self._bad.inc()
            yield beam.pvalue.TaggedOutput(MALFORMED, f"{ids[i]}: label {labels[i]}; expected 0..{self._classes - 1}")
        keep = np.flatnonzero(good)
        kept_ids = [ids[i] for i in keep]
        records = to_sequence_examples(images[keep], labels[keep], kept_ids, self._edges,
                                       {k: v[keep] for k, v in props.items()})
        by_split: dict[str, list] = {}
        for i, image_id, record in zip(keep, kept_ids, records):
            by_split.setdefault(splits[i], []).append((image_id, record))
        for split, batch in by_split.items():
            self._written[split].inc(len(batch))
            yield beam.pvalue.TaggedOutput(split, batch)
        if self._progress is not None:   # ctx.progress: on the console when this runs in the driver's process
            self._progress.tick()


@beam.ptransform_fn
def ChunksToRecords(chunks, dataset: str, edges: dict, num_classes: int = 10, progress=None):
    """IDX chunk files (with the splits the plan chose) -> tagged outputs train/eval/test of lists of
    (image_id, bytes), plus malformed."""
    fn = _ChunkToRecords(dataset, edges, num_classes, progress)
    return chunks | "EncodeChunks" >> beam.ParDo(fn).with_outputs(MALFORMED, *SPLITS)


def read_image_chunk(chunk, dark_on_light: bool = False, progress=None):
    """(dataset, source, split folder, [(index, 'class/file', label)]) -> (source, index, image, label,
    properties, image_id, problem): images decoded and converted by data/images.py; an image that cannot
    be read gets image None and the problem, naming its file."""
    from apache_beam.io.filesystems import FileSystems

    from contract.features import properties
    from data.images import ImageError, to_mnist

    dataset, source, folder, items = chunk
    decoded, failed = [], []
    for index, rel, label in items:
        image_id, path = f"{dataset}/{source}/{rel}", f"{folder}/{rel}"
        try:
            with FileSystems.open(path, compression_type="uncompressed") as f:
                decoded.append((index, label, image_id, to_mnist(f.read(), dark_on_light)))
        except (ImageError, OSError) as e:
            failed.append((source, index, None, label, None, image_id, f"{path}: {e}"))
    yield from failed
    if decoded:
        props = properties(np.stack([d[3] for d in decoded]))
        for j, (index, label, image_id, image) in enumerate(decoded):
            yield source, index, image, label, {k: float(v[j]) for k, v in props.items()}, image_id, ""
    if progress is not None:
        progress.tick()


class _ToRecord(beam.DoFn):
    """Validate one image and serialize it; bad ones go to the MALFORMED output with a reason.

    edges come with the constructor, or as a side input (image folders: fitted in the same Beam job)."""

    def __init__(self, dataset: str, eval_fraction: float, seed: int, edges: dict | None, num_classes: int = 10,
                 test_fraction: float = 0.0):
        self._dataset, self._fraction, self._seed, self._edges = dataset, eval_fraction, seed, edges
        self._test_fraction = test_fraction
        self._classes = num_classes
        self._read = Metrics.counter(NAMESPACE, "records_read")
        self._bad = Metrics.counter(NAMESPACE, "records_malformed")
        self._written = {s: Metrics.counter(NAMESPACE, f"records_{s}") for s in SPLITS}

    def process(self, item, edges=None):
        source, index, image, label = item[:4]
        props = item[4] if len(item) > 4 else None  # precomputed per chunk by read_image_chunk
        image_id = item[5] if len(item) > 5 else f"{self._dataset}/{source}/{index:05d}"
        self._read.inc()
        problem = (item[6] if len(item) > 6 else "") or _problem(image, label, self._classes)
        if problem:
            self._bad.inc()
            yield beam.pvalue.TaggedOutput(MALFORMED, f"{image_id}: {problem}")
            return
        split = split_of(source, image_id, self._fraction, self._seed, self._test_fraction)
        self._written[split].inc()
        record = to_sequence_example(image, label, image_id, edges if edges is not None else self._edges, props)
        yield beam.pvalue.TaggedOutput(split, (image_id, record))


def _problem(image, label, num_classes: int) -> str:
    shape = getattr(image, "shape", None)
    if shape != (STEPS, WIDTH):
        return f"image shape {shape}; expected ({STEPS}, {WIDTH})"
    if getattr(image, "dtype", None) != np.uint8:
        return f"image dtype {image.dtype}; expected uint8"
    if not 0 <= int(label) < num_classes:
        return f"label {label}; expected 0..{num_classes - 1}"
    return ""


class _Edges(beam.CombineFn):
    """Exact quantile bucket edges of each property over the train split (contract/features.py): the
    property values are gathered (5 floats per train image), then cut as ingest's plan cuts IDX data."""

    def __init__(self, buckets: int):
        self._buckets = buckets

    def create_accumulator(self):
        return {}

    def add_input(self, acc, props):
        for k, v in props.items():
            acc.setdefault(k, []).append(v)
        return acc

    def merge_accumulators(self, accs):
        merged: dict = {}
        for acc in accs:
            for k, v in acc.items():
                merged.setdefault(k, []).extend(v)
        return merged

    def extract_output(self, acc):
        from contract.features import bucket_edges
        return {k: bucket_edges(np.asarray(v, dtype=np.float64), self._buckets) for k, v in sorted(acc.items())}


@beam.ptransform_fn
def TrainEdges(items, eval_fraction: float, seed: int, buckets: int, test_fraction: float = 0.0):
    """Decoded items -> one {property: bucket edges} fitted on the images that land in the train split."""
    def in_train(item):
        return item[2] is not None and split_of(item[0], item[5], eval_fraction, seed, test_fraction) == "train"
    return (items
            | "TrainOnly" >> beam.Filter(in_train)
            | "Properties" >> beam.Map(lambda item: item[4])
            | "FitEdges" >> beam.CombineGlobally(_Edges(buckets)))


@beam.ptransform_fn
def ImagesToRecords(items, dataset: str, eval_fraction: float, seed: int, edges=None, num_classes: int = 10,
                    test_fraction: float = 0.0):
    """(source, index, image, label[, properties[, image_id[, problem]]]) -> tagged outputs train/eval/test
    of (image_id, bytes), plus malformed.

    edges: {slice property: bucket edges} (see features.py) for the `<property>_bucket` features, or a
    side input (beam.pvalue.AsSingleton) of one.
    """
    side = isinstance(edges, beam.pvalue.AsSingleton)
    fn = _ToRecord(dataset, eval_fraction, seed, None if side else edges, num_classes, test_fraction)
    args = (edges,) if side else ()
    return items | "ValidateAndSerialize" >> beam.ParDo(fn, *args).with_outputs(MALFORMED, *SPLITS)
