"""Export: a SavedModel whose `serving_default` takes serialized raw SequenceExamples.

serving_default(examples: string[None]) -> probabilities float[None, classes], classes int64[None].
Only `pixels` is parsed; the tensorflow-transform graph runs inside.
"""
from __future__ import annotations

import json

import tensorflow as tf
import tensorflow_transform as tft
from tfx_bsl.tfxio.tensor_representation_util import CreateTfSequenceExampleParserConfig

from contract.records import PIXELS, PIXELS_XF, SERVING_INPUT, SERVING_SIGNATURE, STEPS, WIDTH, raw_schema

CLASS_NAMES_FILE = "class_names.json"
EXAMPLES = tf.TensorSpec([None], tf.string, name=SERVING_INPUT)


def served_logits(model, pixels, mirror_average: bool):
    """The model's logits, or with mirror_average the mean of those for the images and their mirrors."""
    logits = model(pixels, training=False)
    return (logits + model(mirrored(pixels), training=False)) / 2 if mirror_average else logits


def mirrored(pixels):
    """[B, 784] row-major images -> the same images flipped left to right."""
    return tf.reshape(tf.reverse(tf.reshape(pixels, [-1, STEPS, WIDTH]), axis=[2]), [-1, STEPS * WIDTH])


def export_model(model, transform_graph_dir: str, export_dir: str, class_names=None, mirror_average=False) -> None:
    """Save the model with its serving signature; class_names go to assets.extra/class_names.json, where
    model servers look for extras and `python -m pipeline predict` finds them. With mirror_average the
    signature answers with the mean of the logits for the image and for its left-right mirror (test-time
    augmentation, for datasets whose classes survive a mirror)."""
    model.tft_layer = tft.TFTransformOutput(transform_graph_dir).transform_features_layer()
    _, sequence_spec = CreateTfSequenceExampleParserConfig(raw_schema())

    @tf.function(input_signature=[EXAMPLES])
    def serve(examples):
        _, sequences, _ = tf.io.parse_sequence_example(
            examples, sequence_features={PIXELS: sequence_spec[PIXELS]})
        features = model.tft_layer({PIXELS: sequences[PIXELS]})
        probabilities = tf.nn.softmax(served_logits(model, features[PIXELS_XF], mirror_average))
        return {"probabilities": probabilities, "classes": tf.argmax(probabilities, axis=-1)}

    model.save(export_dir, save_format="tf", include_optimizer=False,
               signatures={SERVING_SIGNATURE: serve})
    if class_names:
        tf.io.gfile.makedirs(f"{export_dir}/assets.extra")
        with tf.io.gfile.GFile(f"{export_dir}/assets.extra/{CLASS_NAMES_FILE}", "w") as f:
            json.dump(list(class_names), f)
