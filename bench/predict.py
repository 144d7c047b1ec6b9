"""Bulk inference: `python -m pipeline predict` (components/bulk_inferrer, in-process runner) against a plain
serving_default loop (tf.data reading, batch 256 both) over the same raw records. Throughput ratio, higher
is better.

Needs a finished run (the latest under --root) for its model and its test split's raw records. The input is
the test split's files COPIES times over (links in a scratch folder; 10 copies of Fashion-MNIST's test split
are 100,000 records): a user with a million images pays the per-record rate, and a step's fixed cost (the
run record, Beam's pipeline and bundle set-up, about 1.3 s here) would otherwise be most of 10,000 records.

    python bench/predict.py [--root pipeline_root] [--copies 10]
"""
from __future__ import annotations

import glob
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import latest_summary, measure, report, variant_args  # noqa: E402

BATCH = 256


def ours(summary, split_dir, root, out):
    from cli.config import load_config
    from cli.predict import run_predict
    cfg = load_config("pipeline.yaml", [f"pipeline.root={root}", f"data.dataset={summary['dataset']}",
                                        f"predict.batch_size={BATCH}"])
    facts = run_predict(cfg, list(cfg.beam_args()), summary["run_id"], split_dir, os.path.join(out, "p"))
    return facts["predictions"]


def baseline(summary, split_dir, root, out):
    import tensorflow as tf
    serve = tf.saved_model.load(summary["artifacts"]["model"]).signatures["serving_default"]
    n = 0
    for batch in tf.data.TFRecordDataset(sorted(glob.glob(os.path.join(split_dir, "*")))).batch(BATCH):
        n += len(serve(examples=batch)["probabilities"].numpy())
    return n


def copies_of(split_dir: str, copies: int, folder: str) -> str:
    """A folder holding links to the split's files, `copies` times over."""
    for c in range(copies):
        for path in sorted(glob.glob(os.path.join(split_dir, "*"))):
            os.symlink(os.path.abspath(path), os.path.join(folder, f"copy{c:02d}-{os.path.basename(path)}"))
    return folder


def main():
    args = variant_args(extra=[("--copies", int, 10)])
    if not args.variant:
        a = measure(__file__, "ours", "--root", args.root, "--copies", str(args.copies))
        b = measure(__file__, "baseline", "--root", args.root, "--copies", str(args.copies))
        assert a["ITEMS"] == b["ITEMS"], (a, b)
        for r in (a, b):
            r["rate"] = r["ITEMS"] / r["SECONDS"]
        report(f"predict ({int(a['ITEMS'])} raw records: the test split {args.copies} times, batch {BATCH})", a, b,
               ">= 0.9x of the plain loop's throughput", higher_is_better=True)
        return
    summary = latest_summary(args.root)
    split_dir = os.path.join(summary["artifacts"]["examples"], f"Split-{summary['metrics']['split']}")
    import apache_beam  # noqa: F401  (imports are not part of the measured work)
    import tensorflow  # noqa: F401
    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryDirectory() as links:
        source = copies_of(split_dir, args.copies, links)
        start = time.perf_counter()
        n = (ours if args.variant == "ours" else baseline)(summary, source, args.root, out)
        print(f"SECONDS={time.perf_counter() - start:.3f}\nITEMS={n}")


if __name__ == "__main__":
    main()
