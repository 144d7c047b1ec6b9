"""Export: a SavedModel whose `serving_default` takes serialized raw SequenceExamples.

serving_default(examples: string[None]) -> probabilities float[None, classes], classes int64[None].
Only `pixels` is parsed; the tensorflow-transform graph runs inside. The SavedModel also has a `logits`
function (transformed pixels float[None, 784] -> logits), for benches that feed the model directly:

    python -c "import tensorflow as tf; m = tf.saved_model.load('MODEL_DIR'); print(m.signatures)"

The export is a plain `tf.Module` (the weights, the transform graph, two functions), not a Keras save:
Keras' SavedModel also writes every layer's call functions for Keras to revive, which nothing here
does, but which `tf.saved_model.load` still restored. For the 70k Fashion-MNIST run's model that was
saved_model.pb 792 KB instead of 239 KB, and 61 MB instead of 22 MB to load (docs/performance.md
"What changed, and what it did", 2026-12-02).
"""
from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft
from tfx_bsl.tfxio.tensor_representation_util import CreateTfSequenceExampleParserConfig

from contract import artifacts as files
from contract.records import PIXELS, PIXELS_XF, SERVING_INPUT, SERVING_SIGNATURE, STEPS, WIDTH, raw_schema
from pipeline.artifacts import write_file

EXAMPLES = tf.TensorSpec([None], tf.string, name=SERVING_INPUT)


def served_logits(model, pixels, mirror_average: bool):
    """The model's logits, or with mirror_average the mean of those for the images and their mirrors."""
    logits = model(pixels, training=False)
    return (logits + model(mirrored(pixels), training=False)) / 2 if mirror_average else logits


def mirrored(pixels):
    """[B, 784] row-major images -> the same images flipped left to right."""
    return tf.reshape(tf.reverse(tf.reshape(pixels, [-1, STEPS, WIDTH]), axis=[2]), [-1, STEPS * WIDTH])


def export_model(model, transform_graph_dir: str, export_dir: str, class_names=None, mirror_average=False) -> None:
    """Save the model with its serving signature; class_names go to contract/artifacts.py CLASS_NAMES, where
    model servers look for extras and `python -m pipeline predict` finds them. With mirror_average the
    signature answers with the mean of the logits for the image and for its left-right mirror (test-time
    augmentation, for datasets whose classes survive a mirror)."""
    served = tf.Module()
    served.weights = list(model.variables)   # tracked, so the functions below save them as variables
    served.tft_layer = tft.TFTransformOutput(transform_graph_dir).transform_features_layer()
    _, sequence_spec = CreateTfSequenceExampleParserConfig(raw_schema())

    @tf.function(input_signature=[EXAMPLES])
    def serve(examples):
        _, sequences, _ = tf.io.parse_sequence_example(
            examples, sequence_features={PIXELS: sequence_spec[PIXELS]})
        features = served.tft_layer({PIXELS: sequences[PIXELS]})
        probabilities = tf.nn.softmax(served_logits(model, features[PIXELS_XF], mirror_average))
        return {"probabilities": probabilities, "classes": tf.argmax(probabilities, axis=-1)}

    served.serve = serve
    served.logits = tf.function(lambda pixels: model(pixels, training=False),
                                input_signature=[tf.TensorSpec([None, STEPS * WIDTH], tf.float32, name="pixels")])
    tf.saved_model.save(served, export_dir, signatures={SERVING_SIGNATURE: serve})
    if class_names:
        write_file(files.CLASS_NAMES, export_dir, list(class_names))
