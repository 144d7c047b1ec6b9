"""How TFMA loads our model: once, as a plain SavedModel, with a serving function it can call directly.

Measured with py-spy on the 10k Fashion-MNIST test split (`git show 8d751b9:docs/performance.md`, "Profiles: where the time goes"):
- TFMA guesses a model's type by loading it with Keras (a full load just to ask), and for Keras
  models loads it with Keras again to compute the compiled metrics. `model_type: tf_generic` in the
  ModelSpec skips both; the one load left is `tf.saved_model.load`, which revives no Keras layers.
- TFMA calls the serving function with the batch of serialized examples as a positional argument.
  SavedModel signatures accept keywords only, so every batch first failed to bind, and TensorFlow
  formatted the whole batch into the error message before falling back: about a tenth of the
  evaluator's time. A concrete function with a positional input signature binds at once.
"""
from __future__ import annotations

import tensorflow as tf

from contract.records import SERVING_INPUT
from contract.records import SERVING_SIGNATURE as SERVING

EXAMPLES = tf.TensorSpec([None], tf.string, name=SERVING_INPUT)


class ServedModel:
    """What TFMA needs of a model: `signatures[name]`, callable with one positional string tensor."""

    def __init__(self, loaded):
        self.loaded = loaded  # keeps the variables alive
        keyword_only = loaded.signatures[SERVING]
        self.signatures = {SERVING: tf.function(lambda examples: keyword_only(**{SERVING_INPUT: examples}),
                                                input_signature=[EXAMPLES]).get_concrete_function()}


def load(path: str) -> ServedModel:
    return ServedModel(tf.saved_model.load(path, tags=[tf.saved_model.SERVING]))
