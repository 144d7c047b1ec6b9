"""Misclassified examples for the report: the model's serving_default on the raw records of a split."""
from __future__ import annotations

import base64

import numpy as np
import tensorflow as tf

from components.ingest.records import IMAGE_ID, LABEL, PIXELS
from pipeline.artifacts import join


def predictions(model_dir: str, examples_dir: str, split: str, batch: int = 1024):
    """Yield (image_id, label, pixels uint8[28, 28], probabilities[10]) for every record of the split."""
    serve = tf.saved_model.load(model_dir).signatures["serving_default"]
    files = sorted(tf.io.gfile.glob(join(examples_dir, f"Split-{split}", "*")))
    context = {LABEL: tf.io.FixedLenFeature([], tf.int64), IMAGE_ID: tf.io.FixedLenFeature([], tf.string)}
    for serialized in tf.data.TFRecordDataset(files).batch(batch):
        ctx, seq, _ = tf.io.parse_sequence_example(
            serialized, context_features=context,
            sequence_features={PIXELS: tf.io.FixedLenSequenceFeature([28], tf.float32)})
        probs = serve(examples=serialized)["probabilities"].numpy()
        pixels = seq[PIXELS].numpy().astype(np.uint8)
        for i in range(len(probs)):
            yield ctx[IMAGE_ID][i].numpy().decode(), int(ctx[LABEL][i]), pixels[i], probs[i]


def misclassified(model_dir: str, examples_dir: str, split: str, label_accuracy: dict, size: int) -> list[dict]:
    """Up to `size` wrong predictions, worst label slices first, most confident first within a label."""
    wrong = []
    for image_id, label, pixels, probs in predictions(model_dir, examples_dir, split):
        pred = int(probs.argmax())
        if pred != label:
            wrong.append({"image_id": image_id, "label": label, "predicted": pred,
                          "confidence": round(float(probs[pred]), 4),
                          "pixels": base64.b64encode(pixels.tobytes()).decode()})
    wrong.sort(key=lambda w: (label_accuracy.get(w["label"], 1.0), -w["confidence"], w["image_id"]))
    return wrong[:size]
