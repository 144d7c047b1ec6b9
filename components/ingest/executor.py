"""Ingest executor: IDX files -> sharded TFRecords of raw SequenceExamples, one folder per split.

    python -m pipeline run --set data.dataset=fashion_mnist   # runs ingest first
"""
from __future__ import annotations

import hashlib
import logging

import apache_beam as beam
import numpy as np
from apache_beam.metrics.metric import MetricsFilter

from components.ingest.transforms import MALFORMED, NAMESPACE, ImagesToRecords, read_chunk, split_of
from contract.features import bucket_edges, properties_in_chunks
from contract.records import SPLITS
from contract.shards import WriteShards
from data.idx import read_idx_pair
from pipeline import fs
from pipeline.artifacts import join, write_json

log = logging.getLogger(__name__)
SOURCES = (("train", "train_images", "train_labels"), ("test", "test_images", "test_labels"))


class IngestError(RuntimeError):
    pass


def _worker_files(ctx) -> dict:
    """Local runners read the IDX files in place; cluster workers read copies under the pipeline root."""
    if ctx.workers_are_local:
        return dict(ctx.source.files)
    staged = {}
    fs.makedirs(join(ctx.temp_dir, "raw"))
    for role, path in ctx.source.files.items():
        staged[role] = join(ctx.temp_dir, "raw", path.rsplit("/", 1)[-1])
        fs.copy(path, staged[role])
    return staged


def _plan(ctx):
    """Validate every IDX pair in the driver (fail before Beam starts), cut it into chunks, and fit the
    slice buckets: exact quantiles of each image property over the train split."""
    files, chunk, p = ctx.source.files, ctx.params.chunk_size, ctx.params
    worker_files = _worker_files(ctx)
    chunks, expected, membership, edges = [], 0, hashlib.sha256(), {}
    for source, img_role, lbl_role in SOURCES:
        if img_role not in files:
            continue
        images, _ = read_idx_pair(files[img_role], files[lbl_role])
        n = len(images)
        expected += n
        chunks += [(source, worker_files[img_role], worker_files[lbl_role], s, min(s + chunk, n))
                   for s in range(0, n, chunk)]
        splits = []
        for i in range(n):  # digest of who went where: equal digests, equal splits
            image_id = f"{p.dataset}/{source}/{i:05d}"
            splits.append(split_of(source, image_id, p.eval_fraction, p.seed))
            membership.update(f"{image_id}:{splits[-1]}\n".encode())
        if source == "train":
            train = images[np.asarray(splits) == "train"]
            edges = {k: bucket_edges(v, p.slice_buckets) for k, v in properties_in_chunks(train).items()}
    return chunks, expected, membership.hexdigest(), edges


def _counters(result) -> dict:
    found = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]
    counts: dict = {}
    for c in found:
        counts[c.key.metric.name] = counts.get(c.key.metric.name, 0) + (c.committed or c.attempted or 0)
    return counts


def run(ctx, inputs, outputs) -> dict:
    cfg = ctx.params
    chunks, expected, digest, edges = _plan(ctx)
    out = outputs["examples"]
    shards = cfg.num_shards
    p = ctx.beam_pipeline("ingest")
    tagged = (p
              | "ListChunks" >> beam.Create(chunks)
              | "ReshuffleChunks" >> beam.Reshuffle()
              | "ReadIdxChunks" >> beam.FlatMap(read_chunk)
              | "ImagesToRecords" >> ImagesToRecords(cfg.dataset, cfg.eval_fraction, cfg.seed,
                                                   edges))
    for split in SPLITS:
        _ = tagged[split] | f"Write{split.capitalize()}" >> WriteShards(join(out, f"Split-{split}", "data"), shards,
                                                                         ctx.temp_dir)
    _ = tagged[MALFORMED] | "WriteMalformed" >> beam.io.WriteToText(join(out, "malformed"), file_name_suffix=".txt")
    result = ctx.run_beam(p)
    if ctx.dry_run:
        return {"dry_run": True}
    counts = _counters(result)
    ctx.fault_point("mid")  # records written in staging, nothing published
    write_json(join(out, "bucket_edges.json"), edges)
    facts = _check(counts, expected, cfg.max_malformed, out) | {"split_digest": digest}
    write_json(join(out, "counts.json"), facts["records"])   # records per split, for the steps downstream
    return facts


def _check(counts: dict, expected: int, max_malformed: int, out: str) -> dict:
    read, bad = counts.get("records_read", 0), counts.get("records_malformed", 0)
    written = {s: counts.get(f"records_{s}", 0) for s in SPLITS}
    if read != expected or read != bad + sum(written.values()):
        raise IngestError(f"ingest lost records: expected {expected}, read {read}, wrote {written}, malformed {bad}")
    if bad > max_malformed:
        raise IngestError(f"{bad} malformed records (allowed: {max_malformed}); reasons in {out}/malformed-*.txt")
    log.info("ingest: read %d, wrote %s, malformed %d", read, written, bad)
    return {"records_read": read, "records_malformed": bad, "records": {s: n for s, n in written.items() if n}}
