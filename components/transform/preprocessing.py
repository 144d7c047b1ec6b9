"""The tensorflow-transform preprocessing_fn: the same graph runs in the Transform step and,
inside the exported model, at serving time (no training/serving skew).

    python -m pytest tests/test_transform.py
"""
from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from components.ingest.records import IMAGE_ID, LABEL, PIXELS, STEPS, WIDTH

PIXELS_XF = "pixels_xf"       # [B, 784] floats in 0..1, row-major 28x28


def _checked_dense(pixels: tf.RaggedTensor) -> tf.Tensor:
    """Densify [B, (steps), (values)] after checking every record has exactly 28 x 28 values.

    to_tensor() alone would silently pad or truncate a 27-step record into a wrong prediction.
    """
    steps = pixels.row_lengths(axis=1)
    widths = pixels.values.row_lengths()
    checks = [
        tf.debugging.assert_equal(steps, tf.cast(STEPS, steps.dtype),
                                  message=f"pixels: expected exactly {STEPS} steps per record"),
        tf.debugging.assert_equal(widths, tf.cast(WIDTH, widths.dtype),
                                  message=f"pixels: expected exactly {WIDTH} floats per step"),
    ]
    with tf.control_dependencies(checks):
        return pixels.to_tensor(shape=[None, STEPS, WIDTH])


def make_preprocessing_fn():
    """Build the preprocessing_fn; the model input depends on `pixels` alone."""

    def preprocessing_fn(inputs):
        dense = _checked_dense(inputs[PIXELS])
        # Full-pass analyzer: min and max over the whole training split, not a hard-coded 255.
        scaled = tft.scale_to_0_1(tf.reshape(dense, [-1, STEPS * WIDTH]), elementwise=False)
        # image_id passes through so the materialized examples can be sorted into stable shards;
        # serving never needs it (the TFT layer computes only the outputs that are asked for)
        return {PIXELS_XF: scaled, LABEL: inputs[LABEL], IMAGE_ID: inputs[IMAGE_ID]}

    return preprocessing_fn
