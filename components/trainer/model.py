"""The tutorial's LSTM classifier, in Keras 2 (tf_keras).

Keras 2, not Keras 3: the tensorflow-transform layer and TFMA are tf_keras objects, and importing
tensorflow_transform switches `tf.keras` to tf_keras anyway (see ../shared/STACK.md). We import
`tf_keras` by name so the choice never depends on import order.
"""
from __future__ import annotations

import tf_keras as keras

from contract.records import PIXELS_XF, STEPS, WIDTH


def build_model(cell_size: int, learning_rate: float, num_classes: int, bidirectional: bool = False,
                dropout: float = 0.0, decay_steps: int | None = None) -> keras.Model:
    """Dense(28->cell) on every step, LSTM(cell), Dense(num_classes) on the last state; Adam.

    The defaults are the tutorial's model. Options (trainer section of pipeline.yaml; the `full`
    profile uses them): `bidirectional` reads the rows top-down and bottom-up and joins both last
    states; `dropout` drops that joined state while training; `decay_steps` anneals the learning rate
    to zero along a cosine over that many steps instead of keeping it constant.

    Differences from the TF1 tutorial, on purpose:
    - Weights use Glorot-uniform init. The tutorial drew them from N(0, 1): with 28 (or `cell`) inputs
      the pre-activations have a standard deviation of 5-16, which saturates the LSTM gates and
      slows or stalls learning. That is a known defect, not a choice worth copying.
    - Every image starts from a zero LSTM state. The tutorial fed each batch's final state into the
      next batch, which mixes unrelated images: the first rows of image k+1 would be read in the
      context of image k. Images are independent sequences, so state must not cross them.
    - The forget bias of 1 is Keras' `unit_forget_bias=True` (forget-gate bias initialised to 1 and
      then trained), the Keras form of BasicLSTMCell(forget_bias=1.0).
    """
    pixels = keras.Input(shape=(STEPS * WIDTH,), name=PIXELS_XF)
    rows = keras.layers.Reshape((STEPS, WIDTH), name="rows_as_steps")(pixels)
    hidden = keras.layers.Dense(cell_size, name="in_hidden")(rows)  # applied to each step
    lstm = keras.layers.LSTM(cell_size, unit_forget_bias=True, name="lstm")
    state = keras.layers.Bidirectional(lstm, name="bi_lstm")(hidden) if bidirectional else lstm(hidden)
    if dropout:
        state = keras.layers.Dropout(dropout, name="dropout")(state)
    # float32 logits even under a mixed policy: softmax and the loss stay accurate
    logits = keras.layers.Dense(num_classes, name="out_hidden", dtype="float32")(state)
    model = keras.Model(pixels, logits, name="mnist_lstm")
    rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps) if decay_steps else learning_rate
    model.compile(optimizer=keras.optimizers.Adam(rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return model
