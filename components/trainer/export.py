"""Export: a SavedModel whose `serving_default` takes serialized raw SequenceExamples.

serving_default(examples: string[None]) -> probabilities float[None, 10], classes int64[None].
Only `pixels` is parsed; the tensorflow-transform graph runs inside.
"""
from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft
from tfx_bsl.tfxio.tensor_representation_util import CreateTfSequenceExampleParserConfig

from components.ingest.records import PIXELS, raw_schema
from components.transform.preprocessing import PIXELS_XF

SERVING = "serving_default"
EXAMPLES = tf.TensorSpec([None], tf.string, name="examples")


def export_model(model, transform_graph_dir: str, export_dir: str) -> None:
    model.tft_layer = tft.TFTransformOutput(transform_graph_dir).transform_features_layer()
    _, sequence_spec = CreateTfSequenceExampleParserConfig(raw_schema())

    @tf.function(input_signature=[EXAMPLES])
    def serve(examples):
        _, sequences, _ = tf.io.parse_sequence_example(
            examples, sequence_features={PIXELS: sequence_spec[PIXELS]})
        features = model.tft_layer({PIXELS: sequences[PIXELS]})
        probabilities = tf.nn.softmax(model(features[PIXELS_XF], training=False))
        return {"probabilities": probabilities, "classes": tf.argmax(probabilities, axis=-1)}

    model.save(export_dir, save_format="tf", include_optimizer=False,
               signatures={SERVING: serve})
