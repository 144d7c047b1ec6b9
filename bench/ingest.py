"""Ingest: our Beam ingest vs the fastest single-process writer of the same records we could make.

`baseline` reads each IDX pair whole, computes the image properties, splits and buckets with NumPy,
encodes each chunk of 4,096 records at once (contract/record_batch.py: a [N, bytes] array filled column
by column) and writes them with one tf.io.TFRecordWriter per split: the same record bytes as ingest, no
Beam, no chunk files, no sorted shards. Goal (issue #15): ingest within 2x of it. `baseline-loop`, for
context, encodes record by record with our wire encoder, as ingest did before it encoded whole chunks.

    python bench/ingest.py [--dataset fashion_mnist] [--runner direct]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import measure, report  # noqa: E402


def _setup(dataset, runner):
    from cli.config import load_config
    from data.acquire import acquire
    cfg = load_config("pipeline.yaml", [f"data.dataset={dataset}", f"beam.runner={runner}"])
    return cfg, acquire(cfg.data)


def _params(cfg):
    from components.ingest.component import SPEC
    from pipeline.spec import Params
    return Params(SPEC.declared_params(cfg))


def ours(cfg, source, out):
    from components.ingest.executor import run
    from pipeline.spec import ExecContext
    ctx = ExecContext("bench", out, _params(cfg), tuple(cfg.beam_args()), os.path.join(out, "tmp"),
                      input_properties={"raw_data": source.as_properties()}, component="ingest")
    return sum(run(ctx, {}, {"examples": os.path.join(out, "examples")})["records"].values())


def baseline(cfg, source, out, loop=False):
    """The same records (same split, properties and buckets), one writer per split, no Beam."""
    import numpy as np
    import tensorflow as tf

    from components.ingest.transforms import split_of
    from contract.features import bucket_edges, properties_in_chunks
    from contract.record_batch import to_sequence_examples
    from contract.records import to_sequence_example
    from data.idx import read_idx_pair
    writers, n, edges = {}, 0, None
    for src, img, lbl in (("train", "train_images", "train_labels"), ("test", "test_images", "test_labels")):
        if img not in source.files:
            continue
        images, labels = read_idx_pair(source.files[img], source.files[lbl])
        ids = [f"{cfg.data.dataset}/{src}/{i:05d}" for i in range(len(images))]
        splits = np.array([split_of(src, i, cfg.ingest.eval_fraction, cfg.pipeline.seed) for i in ids])
        props = properties_in_chunks(images)
        if edges is None:   # the train file comes first: fit the buckets on its train split
            edges = {k: bucket_edges(v[splits == "train"], cfg.ingest.slice_buckets) for k, v in props.items()}
        for split in np.unique(splits):
            writers.setdefault(split, tf.io.TFRecordWriter(os.path.join(out, f"{split}.tfrecord")))
        for s in range(0, len(images), 4096):
            chunk = slice(s, s + 4096)
            part = {k: v[chunk] for k, v in props.items()}
            if loop:
                records = [to_sequence_example(images[i], int(labels[i]), ids[i], edges,
                                               {k: float(v[i - s]) for k, v in part.items()})
                           for i in range(s, min(s + 4096, len(images)))]
            else:
                records = to_sequence_examples(images[chunk], labels[chunk], ids[chunk], edges, part)
            for split, record in zip(splits[chunk], records):
                writers[split].write(record)
            n += len(records)
    for w in writers.values():
        w.close()
    return n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", choices=["ours", "baseline", "baseline-loop"])
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--runner", default="direct")
    args = parser.parse_args()
    if not args.variant:
        a = measure(__file__, "ours", "--dataset", args.dataset, "--runner", args.runner)
        b = measure(__file__, "baseline", "--dataset", args.dataset)
        report(f"ingest ({args.dataset}, {int(a['ITEMS'])} records, runner {args.runner}) vs the fastest "
               "single-process writer (chunks encoded at once)", a, b, "<= 2x")
        w = measure(__file__, "baseline-loop", "--dataset", args.dataset)
        report("ingest vs the same writer encoding record by record (context)", a, w, "none; context")
        return
    cfg, source = _setup(args.dataset, args.runner)
    import tensorflow  # noqa: F401  (imports are not part of the measured work)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        n = ours(cfg, source, out) if args.variant == "ours" else baseline(cfg, source, out, "loop" in args.variant)
        print(f"SECONDS={time.perf_counter() - start:.3f}\nITEMS={n}")


if __name__ == "__main__":
    main()
