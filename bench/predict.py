"""Bulk inference: `python -m pipeline predict` (Beam RunInference, in-process runner) against a plain
serving_default loop over the same raw records, batch 256 both. Throughput ratio, higher is better.

Needs a finished run (the latest under --root) for its model and its test split's raw records.

    python bench/predict.py [--root pipeline_root]
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


def main():
    args = variant_args()
    if not args.variant:
        a = measure(__file__, "ours", "--root", args.root)
        b = measure(__file__, "baseline", "--root", args.root)
        assert a["ITEMS"] == b["ITEMS"], (a, b)
        for r in (a, b):
            r["rate"] = r["ITEMS"] / r["SECONDS"]
        report(f"predict ({int(a['ITEMS'])} raw records of the test split, batch {BATCH})", a, b,
               ">= 0.5x of the plain loop's throughput", higher_is_better=True)
        return
    summary = latest_summary(args.root)
    split_dir = os.path.join(summary["artifacts"]["examples"], f"Split-{summary['metrics']['split']}")
    import apache_beam  # noqa: F401  (imports are not part of the measured work)
    import tensorflow  # noqa: F401
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        n = (ours if args.variant == "ours" else baseline)(summary, split_dir, args.root, out)
        print(f"SECONDS={time.perf_counter() - start:.3f}\nITEMS={n}")


if __name__ == "__main__":
    main()
