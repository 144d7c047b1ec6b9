"""Ingest executor: IDX files or an image folder -> sharded TFRecords of raw SequenceExamples, one folder per split.

    python -m pipeline run --set data.dataset=fashion_mnist   # runs ingest first
"""
from __future__ import annotations

import hashlib
import io
import json
import logging

import apache_beam as beam
import numpy as np
from apache_beam.metrics.metric import MetricsFilter

from components.ingest.transforms import (
    MALFORMED,
    NAMESPACE,
    ChunksToRecords,
    ImagesToRecords,
    TrainEdges,
    read_image_chunk,
    split_of,
)
from contract import artifacts as files
from contract.features import bucket_edges, properties_in_chunks
from contract.records import SPLITS
from contract.shards import WriteShards
from data.acquire import DataSource
from data.idx import iter_idx_pair
from pipeline import fs
from pipeline.artifacts import join, write_file

log = logging.getLogger(__name__)
SOURCES = (("train", "train_images", "train_labels"), ("test", "test_images", "test_labels"))


def carved_test(ctx) -> float:
    """The share of the training file that becomes the test split: none where the source has its own test
    set, else ingest.test_fraction, so the reported accuracy never comes from the split that chose the model."""
    has_test = (any(e[0] == "test" for e in _source(ctx).entries) if _source(ctx).entries
                else "test_images" in _source(ctx).files)
    return 0.0 if has_test else ctx.params.test_fraction


class IngestError(RuntimeError):
    pass


def _source(ctx):
    """The raw data this run reads: the raw_data input's properties, as the runner resolved them from the store."""
    return DataSource.from_properties(ctx.input_properties["raw_data"])


def _worker_files(ctx) -> dict:
    """Local runners read the input files in place; cluster workers read copies under the pipeline root."""
    if ctx.workers_are_local:
        return dict(_source(ctx).files)
    staged = {}
    fs.makedirs(join(ctx.temp_dir, "raw"))
    for role, path in _source(ctx).files.items():
        staged[role] = join(ctx.temp_dir, "raw", path.rstrip("/").rsplit("/", 1)[-1])
        if _source(ctx).entries:   # an image folder: copy the split's listed images
            for split, rel, _, _ in _source(ctx).entries:
                if split == role:
                    fs.makedirs(join(staged[role], rel.rsplit("/", 1)[0]))
                    fs.copy(join(path, rel), join(staged[role], rel))
        else:
            fs.copy(path, staged[role])
    return staged


def _membership(image_ids) -> str:
    """Digest of who went where: equal digests, equal splits."""
    h = hashlib.sha256()
    for image_id, split in image_ids:
        h.update(f"{image_id}:{split}\n".encode())
    return h.hexdigest()


def _plan_idx(ctx):
    """Stream every IDX pair once in the driver: validate it (fail before Beam starts), write each chunk of
    images and labels to a chunk file the workers read, and fit the slice buckets (exact quantiles of each
    image property over the train split). Memory: one chunk of images plus the property values, whatever
    the dataset's size; no worker reads, or holds, a whole file."""
    files, p, carve = _source(ctx).files, ctx.params, carved_test(ctx)
    chunks, expected, membership, train_props = [], 0, hashlib.sha256(), {}
    folder = join(ctx.temp_dir, "chunks")
    fs.makedirs(folder)
    for source, img_role, lbl_role in SOURCES:
        if img_role not in files:
            continue
        for start, images, labels in iter_idx_pair(files[img_role], files[lbl_role], len(p.class_names),
                                                   p.chunk_size):
            end = start + len(images)
            path = join(folder, f"{source}-{start:08d}.npz")
            ids = [f"{p.dataset}/{source}/{i:05d}" for i in range(start, end)]
            splits = [split_of(source, i, p.eval_fraction, p.seed, carve) for i in ids]
            props = properties_in_chunks(images)   # once, here: the workers read them, and the splits, from the file
            _write_chunk(path, images, labels, props, splits)
            chunks.append((source, path, start, end))
            membership.update("".join(f"{i}:{s}\n" for i, s in zip(ids, splits)).encode())
            if source == "train":
                train = np.asarray(splits) == "train"
                for k, v in props.items():
                    train_props.setdefault(k, []).append(v[train])
            expected += len(images)
    edges = {k: bucket_edges(np.concatenate(v), p.slice_buckets) for k, v in train_props.items()}
    return chunks, expected, membership.hexdigest(), edges


def _write_chunk(path: str, images: np.ndarray, labels: np.ndarray, props: dict, splits: list[str]) -> None:
    buf = io.BytesIO()
    np.savez(buf, images=images, labels=labels, splits=np.asarray(splits), **{f"prop_{k}": v for k, v in props.items()})
    with fs.open_file(path, "wb") as f:
        f.write(buf.getvalue())


def _plan_images(ctx):
    """An image folder: chunks of listed files (decoded in Beam); the edges are fitted in the Beam job."""
    p, entries, carve = ctx.params, _source(ctx).entries, carved_test(ctx)
    folders = _worker_files(ctx)
    chunks, members = [], []
    for source in ("train", "test"):
        mine = [(i, rel, label) for i, (split, rel, label, _) in enumerate(e for e in entries if e[0] == source)]
        chunks += [(p.dataset, source, folders[source], mine[s:s + p.chunk_size])
                   for s in range(0, len(mine), p.chunk_size)]
        members += [(f"{p.dataset}/{source}/{rel}", split_of(source, f"{p.dataset}/{source}/{rel}", p.eval_fraction,
                                                             p.seed, carve)) for _, rel, _ in mine]
    return chunks, len(entries), _membership(members), None


def _records(p, ctx, chunks, edges, images: bool):
    """The Beam graph up to tagged records: train/eval/test of (image_id, bytes) for an image folder (one
    per image, edges fitted in the job and also returned), of lists of them for IDX chunks; malformed."""
    cfg = ctx.params
    listed = p | "ListChunks" >> beam.Create(chunks) | "ReshuffleChunks" >> beam.Reshuffle()
    if not images:
        return listed | "ChunksToRecords" >> ChunksToRecords(cfg.dataset, edges, len(cfg.class_names),
                                                             ctx.progress), None
    items = listed | "DecodeImages" >> beam.FlatMap(read_image_chunk, cfg.dark_on_light, ctx.progress)
    carve = carved_test(ctx)
    fitted = items | "TrainEdges" >> TrainEdges(cfg.eval_fraction, cfg.seed, cfg.slice_buckets, carve)
    return items | "ImagesToRecords" >> ImagesToRecords(cfg.dataset, cfg.eval_fraction, cfg.seed,
                                                         beam.pvalue.AsSingleton(fitted), len(cfg.class_names),
                                                         carve), fitted


def _counters(result) -> dict:
    found = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]
    counts: dict = {}
    for c in found:
        counts[c.key.metric.name] = counts.get(c.key.metric.name, 0) + (c.committed or c.attempted or 0)
    return counts


def run(ctx, inputs, outputs) -> dict:
    cfg = ctx.params
    images = bool(_source(ctx).entries)
    chunks, expected, digest, edges = (_plan_images if images else _plan_idx)(ctx)
    out = outputs["examples"]
    shards = cfg.num_shards
    p = ctx.beam_pipeline("ingest")
    ctx.progress.expect(len(chunks), "chunks")
    tagged, fitted = _records(p, ctx, chunks, edges, images)
    if fitted is not None:
        _ = fitted | "EdgesAsJson" >> beam.Map(json.dumps, sort_keys=True) | "WriteEdges" >> beam.io.WriteToText(
            join(ctx.temp_dir, "edges"), shard_name_template="")
    for split in SPLITS:
        _ = tagged[split] | f"Write{split.capitalize()}" >> WriteShards(join(out, f"Split-{split}", "data"), shards,
                                                                         ctx.temp_dir, batched=not images)
    _ = tagged[MALFORMED] | "WriteMalformed" >> beam.io.WriteToText(join(out, "malformed"), file_name_suffix=".txt")
    result = ctx.run_beam(p)
    if ctx.dry_run:
        return {"dry_run": True}
    counts = _counters(result)
    ctx.fault_point("mid")  # records written in staging, nothing published
    if images:
        with fs.open_file(join(ctx.temp_dir, "edges")) as f:
            edges = json.loads(f.read())
    write_file(files.BUCKET_EDGES, out, edges)
    carve = carved_test(ctx)
    test_split = f"{carve:.0%} of the training file, by hash (no test set)" if carve else "the test file"
    facts = _check(counts, expected, cfg.max_malformed, out, ctx.evidence_dir) | {"split_digest": digest,
                                                                                  "test_split": test_split}
    write_file(files.COUNTS, out, facts["records"])   # records per split, for the steps downstream
    # The data version these records come from (content digests, no paths: moved data is the same data)
    write_file(files.DATA_VERSION, out, {
        "dataset": cfg.dataset, "kind": _source(ctx).kind, "custom": _source(ctx).kind.startswith("custom"),
        "sha256": dict(sorted(_source(ctx).sha256.items())), "records": facts["records"],
        "malformed": facts["records_malformed"], "test_split": test_split})
    return facts


def _keep_malformed(out: str, evidence: str) -> tuple[list[str], str]:
    """The malformed inputs' lines (sorted), copied where they outlive the failed step's staging."""
    lines = []
    for name in sorted(n for n in fs.listdir(out) if n.startswith("malformed")):
        with fs.open_file(join(out, name)) as f:
            lines += [line for line in f.read().splitlines() if line]
    lines.sort()
    kept = join(evidence, "malformed.txt")
    fs.makedirs(evidence)
    with fs.open_file(kept, "w") as f:
        f.write("".join(line + "\n" for line in lines))
    return lines, kept


def _check(counts: dict, expected: int, max_malformed: int, out: str, evidence: str) -> dict:
    read, bad = counts.get("records_read", 0), counts.get("records_malformed", 0)
    written = {s: counts.get(f"records_{s}", 0) for s in SPLITS}
    if read != expected or read != bad + sum(written.values()):
        raise IngestError(f"ingest lost records: expected {expected}, read {read}, wrote {written}, malformed {bad}")
    if bad > max_malformed:
        lines, kept = _keep_malformed(out, evidence)
        more = f" and {len(lines) - 3} more" if len(lines) > 3 else ""
        raise IngestError(f"{bad} malformed records (allowed: {max_malformed}): {'; '.join(lines[:3])}{more}; "
                          f"all in {kept}")
    log.info("ingest: read %d, wrote %s, malformed %d", read, written, bad)
    return {"records_read": read, "records_malformed": bad, "records": {s: n for s, n in written.items() if n}}
