"""The tutorial's LSTM classifier, in Keras 2 (tf_keras).

Keras 2, not Keras 3: the tensorflow-transform layer and TFMA are tf_keras objects, and importing
tensorflow_transform switches `tf.keras` to tf_keras anyway (see ../shared/STACK.md). We import
`tf_keras` by name so the choice never depends on import order.
"""
from __future__ import annotations

import tf_keras as keras

from contract.records import PIXELS_XF, STEPS, WIDTH


def build_model(cell_size: int, learning_rate: float, num_classes: int, bidirectional: bool = False,
                dropout: float = 0.0, decay_steps: int | None = None, columns: bool = False,
                pool: str = "last", label_smoothing: float = 0.0, weight_decay: float = 0.0,
                ema: float = 0.0, step_filters: int = 0) -> keras.Model:
    """Dense(28->cell) on every step, LSTM(cell), Dense(num_classes) on the last state; Adam.

    The defaults are the tutorial's model. Options (trainer section of pipeline.yaml; the `full`
    profile uses them): `bidirectional` reads the rows top-down and bottom-up and joins both last
    states; `columns` adds a second reader of the same kind that takes the image one column per step
    (left to right), so the classifier sees both the rows' and the columns' sequence; `pool` 'last+max'
    joins each reader's last state with the maximum of its outputs over all steps (a feature seen in
    any row counts, not only what the last state remembers); `dropout` drops the joined state while
    training; `decay_steps` anneals the learning rate to zero along a cosine over that many steps
    instead of keeping it constant; `label_smoothing` trains towards (1 - e) on the label and e spread
    over all classes; `weight_decay` makes the optimizer AdamW (decay decoupled from the gradient);
    `ema` > 0 keeps an exponential moving average of the weights with that momentum, and `fit` ends by
    writing the average into the model (what is evaluated and exported); `step_filters` > 0 encodes each
    step with a small convolution along its own 28 pixels (below) instead of the linear Dense alone.

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
    read = lambda image, prefix: _reader(image, prefix, cell_size, bidirectional, pool, step_filters)
    rows = keras.layers.Reshape((STEPS, WIDTH), name="rows_as_steps")(pixels)
    states = read(rows, "")
    if columns:  # the transposed image: column j of the image is step j
        states += read(keras.layers.Permute((2, 1), name="columns_as_steps")(rows), "col_")
    state = keras.layers.Concatenate(name="joined")(states) if len(states) > 1 else states[0]
    if dropout:
        state = keras.layers.Dropout(dropout, name="dropout")(state)
    # float32 logits even under a mixed policy: softmax and the loss stay accurate
    logits = keras.layers.Dense(num_classes, name="out_hidden", dtype="float32")(state)
    model = keras.Model(pixels, logits, name="mnist_lstm")
    rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps) if decay_steps else learning_rate
    averaged = {"use_ema": True, "ema_momentum": ema} if ema else {}
    optimizer = keras.optimizers.AdamW(rate, weight_decay=weight_decay, **averaged) if weight_decay else \
        keras.optimizers.Adam(rate, **averaged)
    loss = smoothed_loss(label_smoothing) if label_smoothing else \
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=optimizer, loss=loss,
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return model


def smoothed_loss(smoothing: float):
    """Cross-entropy on integer labels against smoothed targets: (1 - smoothing) on the label, smoothing
    spread evenly over every class (Keras' smoothing needs one-hot labels; ours stay integers)."""
    import tensorflow as tf

    def loss(labels, logits):
        log_p = tf.nn.log_softmax(tf.cast(logits, tf.float32))
        picked = tf.gather(log_p, tf.reshape(tf.cast(labels, tf.int32), [-1]), batch_dims=1)
        return -(1 - smoothing) * picked - smoothing * tf.reduce_mean(log_p, axis=-1)

    loss.__name__ = "smoothed_cross_entropy"
    return loss


def _reader(steps, prefix: str, cell_size: int, bidirectional: bool, pool: str, step_filters: int = 0) -> list:
    """Dense on every step, then the LSTM (both ways if bidirectional): [last state] or, with pool
    'last+max', [last state, maximum over steps]. The rows' layers keep the tutorial's names."""
    if step_filters:
        steps = _step_features(steps, prefix, step_filters)
    hidden = keras.layers.Dense(cell_size, name=f"{prefix}in_hidden")(steps)  # applied to each step
    pooled = pool == "last+max"
    lstm = keras.layers.LSTM(cell_size, unit_forget_bias=True, return_sequences=pooled, return_state=pooled,
                             name=f"{prefix}lstm")
    if not pooled:
        return [keras.layers.Bidirectional(lstm, name=f"{prefix}bi_lstm")(hidden) if bidirectional else lstm(hidden)]
    if bidirectional:  # the backward direction's last state is its reading of the first row
        outputs, forward, _, backward, _ = keras.layers.Bidirectional(lstm, name=f"{prefix}bi_lstm")(hidden)
        last = keras.layers.Concatenate(name=f"{prefix}last_states")([forward, backward])
    else:
        outputs, last, _ = lstm(hidden)
    return [last, keras.layers.GlobalMaxPooling1D(name=f"{prefix}max_over_steps")(outputs)]


def _step_features(steps, prefix: str, filters: int):
    """[B, 28 steps, 28 values] -> [B, 28, 28 * filters]: a 1x5 convolution (ReLU) along each
    step's own values. A step is still one row (one column for the column reader) and never sees its
    neighbours, which stay the LSTM's job; what the convolution adds is a stroke or edge detector that
    fires wherever it lies in the row, which one linear Dense per step (absorbed into the LSTM's input
    weights) cannot be. On Fashion-MNIST, 3 epochs of the `full` model with 16 filters: 0.888 against 0.876
    test accuracy, each epoch 11% longer (docs/performance.md, "a convolution along each row")."""
    grid = keras.layers.Reshape((STEPS, WIDTH, 1), name=f"{prefix}steps_as_grid")(steps)
    conv = keras.layers.Conv2D(filters, (1, 5), padding="same", activation="relu", name=f"{prefix}step_conv")(grid)
    return keras.layers.Reshape((STEPS, WIDTH * filters), name=f"{prefix}step_features")(conv)


def from_knobs(knobs, num_classes: int, decay_steps: int | None) -> keras.Model:
    """build_model from pipeline.yaml's trainer keys (a mapping: the trainer's params, a trial's values), under
    the precision policy they resolved to (`precision`); the process-wide policy is left as it was found.
    `decay_steps` is the cosine's length (None: the schedule is constant, whatever lr_schedule says)."""
    keras.mixed_precision.set_global_policy(knobs["precision"])
    try:
        return build_model(knobs["cell_size"], knobs["learning_rate"], num_classes, knobs["bidirectional"],
                           knobs["dropout"], decay_steps=decay_steps if knobs["lr_schedule"] == "cosine" else None,
                           columns=knobs["columns"], pool=knobs["pool"], label_smoothing=knobs["label_smoothing"],
                           weight_decay=knobs["weight_decay"], ema=knobs["ema"], step_filters=knobs["step_filters"])
    finally:
        keras.mixed_precision.set_global_policy("float32")
