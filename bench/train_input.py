"""Train input: examples/s of the same model fed from our transformed TFRecords vs in-memory NumPy.

Needs a finished run (the latest under --root).

    python bench/train_input.py [--root pipeline_root] [--steps 60]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import measure, report  # noqa: E402

BATCH = 256


def _fit(data, steps):
    from modeling.model import build_model
    model = build_model(128, 1e-3, num_classes=10)   # Fashion-MNIST's ten classes
    model.fit(data, epochs=1, steps_per_epoch=2, verbose=0)        # warm-up: graph tracing is not input speed
    start = time.perf_counter()
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    return time.perf_counter() - start


def ours(summary, steps):
    from modeling.inputs import input_spec, make_dataset
    split = os.path.join(summary["artifacts"]["transformed_examples"], "Split-train")
    features = input_spec(summary["artifacts"]["transform_graph"])
    return _fit(make_dataset(split, features, BATCH, 10000, 42, repeat=True), steps)


def baseline(summary, steps):
    import numpy as np
    import tensorflow as tf

    from data.idx import read_idx_pair
    files = summary["source"]["files"]
    images, labels = read_idx_pair(files["train_images"], files["train_labels"])
    x = (images.reshape(len(images), -1) / 255.0).astype(np.float32)
    data = tf.data.Dataset.from_tensor_slices((x, labels.astype(np.int64))).shuffle(10000, seed=42).repeat().batch(BATCH)
    return _fit(data, steps)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", choices=["ours", "baseline"])
    parser.add_argument("--root", default="pipeline_root")
    parser.add_argument("--steps", default="60")
    args = parser.parse_args()
    if not args.variant:
        a = measure(__file__, "ours", "--root", args.root, "--steps", args.steps)
        b = measure(__file__, "baseline", "--root", args.root, "--steps", args.steps)
        for r in (a, b):
            r["rate"] = r["ITEMS"] / r["SECONDS"]
        report(f"train input ({args.steps} steps of {BATCH}, LSTM(128))", a, b, ">= 0.9x", higher_is_better=True)
        return
    run_id = open(os.path.join(args.root, "runs", "latest")).read().strip()
    summary = json.load(open(os.path.join(args.root, "runs", run_id, "summary.json")))
    import tf_keras  # noqa: F401
    steps = int(args.steps)
    seconds = (ours if args.variant == "ours" else baseline)(summary, steps)
    print(f"SECONDS={seconds:.3f}\nITEMS={steps * BATCH}")


if __name__ == "__main__":
    main()
