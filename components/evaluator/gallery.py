"""Misclassified examples for the report: the model's serving_default on the raw records of a split."""
from __future__ import annotations

import base64

import numpy as np
import tensorflow as tf

from contract.records import IMAGE_ID, LABEL, PIXELS, split_pattern


def predictions(model_dir: str, examples_dir: str, split: str, batch: int = 1024):
    """Yield (image_id, label, pixels uint8[28, 28], probabilities[classes]) for every record of the split."""
    serve = tf.saved_model.load(model_dir).signatures["serving_default"]
    files = sorted(tf.io.gfile.glob(split_pattern(examples_dir, split)))
    context = {LABEL: tf.io.FixedLenFeature([], tf.int64), IMAGE_ID: tf.io.FixedLenFeature([], tf.string)}
    for serialized in tf.data.TFRecordDataset(files).batch(batch):
        ctx, seq, _ = tf.io.parse_sequence_example(
            serialized, context_features=context,
            sequence_features={PIXELS: tf.io.FixedLenSequenceFeature([28], tf.float32)})
        probs = serve(examples=serialized)["probabilities"].numpy()
        pixels = seq[PIXELS].numpy().astype(np.uint8)
        for i in range(len(probs)):
            yield ctx[IMAGE_ID][i].numpy().decode(), int(ctx[LABEL][i]), pixels[i], probs[i]


def pixels_of(examples_dir: str, split: str, image_ids: set[str]) -> dict[str, np.ndarray]:
    """uint8[28, 28] pixels of the records with these ids: only ids are parsed for the others."""
    files = sorted(tf.io.gfile.glob(split_pattern(examples_dir, split)))
    found = {}
    for serialized in tf.data.TFRecordDataset(files).batch(512):   # small: the end of the evaluator is its peak
        ids = tf.io.parse_sequence_example(
            serialized, context_features={IMAGE_ID: tf.io.FixedLenFeature([], tf.string)})[0][IMAGE_ID]
        hits = [i for i, v in enumerate(ids.numpy()) if v.decode() in image_ids]
        if not hits:
            continue
        _, seq, _ = tf.io.parse_sequence_example(
            tf.gather(serialized, hits), sequence_features={PIXELS: tf.io.FixedLenSequenceFeature([28], tf.float32)})
        for i, pixels in zip(hits, seq[PIXELS].numpy()):
            found[ids[i].numpy().decode()] = pixels.astype(np.uint8)
    return found


def misclassified(examples_dir: str, split: str, slices: list[dict], errors: dict, size: int) -> list[dict]:
    """Up to `size` wrong predictions, worst label slices first, most confident first within a label.

    slices: read_results' rows (their accuracy orders the labels); errors: {label: that label's most
    confident wrong predictions}, picked in TFMA's pass (picks.py).
    """
    by_label = [s for s in slices if list(s["features"]) == [LABEL]]
    by_label.sort(key=lambda s: (s["accuracy"] if s["accuracy"] is not None else 1.0, s["features"][LABEL]))
    chosen = [dict(e) for s in by_label for e in errors.get(str(s["features"][LABEL]), [])][:size]
    pixels = pixels_of(examples_dir, split, {e["image_id"] for e in chosen})
    for e in chosen:
        e["pixels"] = base64.b64encode(pixels[e["image_id"]].tobytes()).decode()
    return chosen
