"""Beam transforms: raw SequenceExample records of each split -> per-split statistics and duplicates.

Testable without the orchestrator:

    with TestPipeline() as p:
        stats = p | beam.Create([("train", record), ...]) | ComputeStatistics(num_classes=10)
"""
from __future__ import annotations

import hashlib

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from components.statistics import stats
from contract.records import LABEL, PIXELS, SLICE_PROPERTIES, WIDTH

NAMESPACE = "statistics"
MALFORMED = "malformed"
HASHES = "hashes"


class _ParseBatch(beam.DoFn):
    """A batch of (split, record) -> one (split, partial) per split; (content hash, split) per record.

    A record that does not parse goes to the MALFORMED output with its split and position in the batch.
    """

    def __init__(self, num_classes: int):
        super().__init__()
        self._num_classes = num_classes

    def setup(self):
        import tensorflow as tf
        self._tf = tf
        self._bad = Metrics.counter(NAMESPACE, "records_malformed")
        self._read = Metrics.counter(NAMESPACE, "records_read")

    def _parse(self, records):
        tf = self._tf
        context = {LABEL: tf.io.FixedLenFeature([], tf.int64),
                   **{p: tf.io.FixedLenFeature([], tf.float32, default_value=0.0) for p in SLICE_PROPERTIES}}
        ctx, seq, _ = tf.io.parse_sequence_example(
            tf.constant(records), context_features=context,
            sequence_features={PIXELS: tf.io.FixedLenSequenceFeature([WIDTH], tf.float32)})
        return ({k: v.numpy() for k, v in ctx.items()}, seq[PIXELS].numpy())

    def process(self, batch):
        by_split: dict[str, list[bytes]] = {}
        for split, record in batch:
            by_split.setdefault(split, []).append(record)
        for split, records in by_split.items():
            self._read.inc(len(records))
            parsed, bad = self._parse_or_sort_out(records)
            for position, why in bad:
                self._bad.inc()
                yield beam.pvalue.TaggedOutput(MALFORMED, f"{split}: record {position} of its batch: {why}")
            if parsed is None:
                continue
            ctx, pixels = parsed
            yield split, stats.partial(pixels, ctx[LABEL].astype(np.int64), {p: ctx[p] for p in SLICE_PROPERTIES},
                                       self._num_classes)
            content = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
            for image in content:
                yield beam.pvalue.TaggedOutput(HASHES, (hashlib.sha1(image.tobytes()).hexdigest()[:20], split))

    def _parse_or_sort_out(self, records):
        """(parsed batch or None, [(position, why)]): one parse for a clean batch."""
        try:
            return self._parse(records), []
        except Exception:  # find the culprits one by one; the rest of the batch still counts
            good, bad = [], []
            for i, record in enumerate(records):
                try:
                    self._parse([record])
                    good.append(record)
                except Exception as e:
                    bad.append((i, f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"))
            return (self._parse(good) if good else None), bad


class _MergePartials(beam.CombineFn):
    def create_accumulator(self):
        return {}

    def add_input(self, acc, part):
        return stats.merge([acc, part])

    def merge_accumulators(self, accs):
        return stats.merge(list(accs))

    def extract_output(self, acc):
        return acc


def _duplicate_counts(item):
    """(hash, [split, ...]) -> ('within:<split>', extra copies) and ('across:<a>~<b>', 1) per shared image."""
    _, splits = item
    splits = list(splits)
    for split in sorted(set(splits)):
        extra = splits.count(split) - 1
        if extra:
            yield f"within:{split}", extra
    present = sorted(set(splits))
    for i, a in enumerate(present):
        for b in present[i + 1:]:
            yield f"across:{a}~{b}", 1


@beam.ptransform_fn
def ComputeStatistics(records, num_classes: int, batch_size: int = 1024):
    """(split, serialized SequenceExample) -> {'splits': PCollection[(split, merged partial)],
    'duplicates': PCollection[(key, count)], 'malformed': PCollection[str]}."""
    parsed = (records
              | "Batch" >> beam.BatchElements(min_batch_size=min(64, batch_size), max_batch_size=batch_size)
              | "ParseAndSummarize" >> beam.ParDo(_ParseBatch(num_classes)).with_outputs(MALFORMED, HASHES, main="partials"))
    splits = parsed.partials | "MergePerSplit" >> beam.CombinePerKey(_MergePartials())
    duplicates = (parsed[HASHES]
                  | "GroupByContent" >> beam.GroupByKey()
                  | "CountCopies" >> beam.FlatMap(_duplicate_counts)
                  | "SumCopies" >> beam.CombinePerKey(sum))
    return {"splits": splits, "duplicates": duplicates, MALFORMED: parsed[MALFORMED]}
