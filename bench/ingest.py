"""Ingest: our Beam ingest vs one process writing the same records with NumPy + tf.io.TFRecordWriter.

Two baselines write the same bytes: `baseline` builds each record with the protobuf API (the plain
way, what the goal is measured against); `baseline-wire` uses our wire encoder, so its ratio is the
cost of Beam alone.

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
    from data.acquire import acquire
    from pipeline.config import load_config
    cfg = load_config("pipeline.yaml", [f"data.dataset={dataset}", f"beam.runner={runner}"])
    return cfg, acquire(cfg.data)


def _params(cfg):
    from components.ingest.component import SPEC
    from pipeline.spec import Params
    return Params(SPEC.declared_params(cfg))


def ours(cfg, source, out):
    from components.ingest.executor import run
    from pipeline.spec import ExecContext
    ctx = ExecContext("bench", out, _params(cfg), tuple(cfg.beam_args()), source, os.path.join(out, "tmp"),
                      component="ingest")
    return sum(run(ctx, {}, {"examples": os.path.join(out, "examples")})["records"].values())


def baseline(cfg, source, out, wire=False):
    """The same records (same split, properties and buckets), one writer per split, no Beam."""
    import numpy as np
    import tensorflow as tf

    from components.ingest.transforms import split_of
    from contract.features import bucket_edges, properties
    from contract.records import sequence_example_proto, to_sequence_example
    from data.idx import read_idx_pair
    images, _ = read_idx_pair(source.files["train_images"], source.files["train_labels"])
    train = np.asarray([split_of("train", f"{cfg.data.dataset}/train/{i:05d}", cfg.ingest.eval_fraction,
                                 cfg.pipeline.seed) == "train" for i in range(len(images))])
    edges = {k: bucket_edges(v, cfg.ingest.slice_buckets) for k, v in properties(images[train]).items()}
    writers, n = {}, 0
    for src, img, lbl in (("train", "train_images", "train_labels"), ("test", "test_images", "test_labels")):
        if img not in source.files:
            continue
        images, labels = read_idx_pair(source.files[img], source.files[lbl])
        props = properties(images)
        for i in range(len(images)):
            image_id = f"{cfg.data.dataset}/{src}/{i:05d}"
            split = split_of(src, image_id, cfg.ingest.eval_fraction, cfg.pipeline.seed)
            if split not in writers:
                writers[split] = tf.io.TFRecordWriter(os.path.join(out, f"{split}.tfrecord"))
            p = {k: float(v[i]) for k, v in props.items()}
            args = (images[i], int(labels[i]), image_id, edges, p)
            writers[split].write(to_sequence_example(*args) if wire else
                                 sequence_example_proto(*args).SerializeToString(deterministic=True))
            n += 1
    for w in writers.values():
        w.close()
    return n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", choices=["ours", "baseline", "baseline-wire"])
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--runner", default="direct")
    args = parser.parse_args()
    if not args.variant:
        a = measure(__file__, "ours", "--dataset", args.dataset, "--runner", args.runner)
        b = measure(__file__, "baseline", "--dataset", args.dataset)
        report(f"ingest ({args.dataset}, {int(a['ITEMS'])} records, runner {args.runner})", a, b, "<= 1.5x")
        w = measure(__file__, "baseline-wire", "--dataset", args.dataset)
        report("ingest vs the same loop with our wire encoder (the cost of Beam alone)", a, w, "none; context")
        return
    cfg, source = _setup(args.dataset, args.runner)
    import tensorflow  # noqa: F401  (imports are not part of the measured work)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        n = ours(cfg, source, out) if args.variant == "ours" else baseline(cfg, source, out, "wire" in args.variant)
        print(f"SECONDS={time.perf_counter() - start:.3f}\nITEMS={n}")


if __name__ == "__main__":
    main()
