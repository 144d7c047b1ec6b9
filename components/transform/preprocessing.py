"""The tensorflow-transform preprocessing_fn: the same graph runs in the Transform step and,
inside the exported model, at serving time (no training/serving skew).

    python -m pytest tests/test_transform.py
"""
from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from contract.records import IMAGE_ID, LABEL, PIXELS, PIXELS_XF, STEPS, WIDTH


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


def preprocessing_fn(inputs):
    """The module-level preprocessing_fn (as TFX's Transform expects); the model input depends on `pixels`."""
    dense = _checked_dense(inputs[PIXELS])
    # Full-pass analyzer: min and max over the whole training split, not a hard-coded 255.
    scaled = tft.scale_to_0_1(tf.reshape(dense, [-1, STEPS * WIDTH]), elementwise=False)
    # image_id passes through so the materialized examples can be sorted into stable shards;
    # serving never needs it (the TFT layer computes only the outputs that are asked for)
    return {PIXELS_XF: scaled, LABEL: inputs[LABEL], IMAGE_ID: inputs[IMAGE_ID]}
