"""Test-split accuracy of a run's model served plain, on mirrored images, and mirror-averaged (trainer.tta).

Loads the run's SavedModel function `logits` (the model without its serving wrapper) and the raw test
records, scales pixels to 0..1 as the transform does for 0..255 images, and compares argmax(logits) with
the labels.

    python bench/mirror_average.py build/bench_accuracy/full/runs/<run id>
"""
from __future__ import annotations

import glob
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def main(run_dir: str) -> None:
    import numpy as np
    import tensorflow as tf

    from contract.records import LABEL, PIXELS

    loaded = tf.saved_model.load(os.path.join(run_dir, "trainer", "model"))   # kept: it owns the weights
    logits = loaded.logits   # transformed pixels -> logits (components/trainer/export.py)
    files = sorted(glob.glob(os.path.join(run_dir, "ingest", "examples", "Split-test", "*")))
    images, labels = [], []
    for batch in tf.data.TFRecordDataset(files).batch(1000):
        ctx, seq, _ = tf.io.parse_sequence_example(
            batch, context_features={LABEL: tf.io.FixedLenFeature([], tf.int64)},
            sequence_features={PIXELS: tf.io.FixedLenSequenceFeature([28], tf.float32)})
        images.append(seq[PIXELS].numpy())
        labels.append(ctx[LABEL].numpy())
    x, y = np.concatenate(images) / 255.0, np.concatenate(labels)
    predict = lambda images: np.concatenate([logits(tf.constant(images[i:i + 1000].reshape(-1, 784), tf.float32))
                                             for i in range(0, len(images), 1000)])
    plain, mirror = predict(x), predict(x[:, :, ::-1])
    share = lambda logits: float((logits.argmax(axis=1) == y).mean())
    print(f"{run_dir}: {len(y)} test images; plain {share(plain):.4f}, mirrored {share(mirror):.4f}, "
          f"mirror-averaged {share(plain + mirror):.4f}")


if __name__ == "__main__":
    main(sys.argv[1])
