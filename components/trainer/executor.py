"""Trainer executor: fit the LSTM on transformed examples, log to TensorBoard, export a SavedModel.

Runs where the orchestrator runs (not on Beam). Checkpoints (Keras BackupAndRestore) go to
<root>/checkpoints/trainer-<fingerprint>: outside the run, keyed by what is being trained, so a killed
trainer resumes from its last checkpoint when the same command runs again.
"""
from __future__ import annotations

import logging
import time

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from components.trainer.export import export_model
from components.trainer.model import build_model
from contract import artifacts as files
from contract.records import LABEL, PIXELS_XF
from pipeline import fs
from pipeline.artifacts import join, read_file, write_file

log = logging.getLogger(__name__)


def input_spec(transform_graph_dir: str) -> dict:
    """What the trainer parses, as the transform step declared it (TFTransformOutput), not restated here."""
    spec = tft.TFTransformOutput(transform_graph_dir).transformed_feature_spec()
    return {PIXELS_XF: spec[PIXELS_XF], LABEL: spec[LABEL]}


def make_dataset(split_dir: str, features: dict, batch_size: int, shuffle_buffer: int = 0, seed: int = 0,
                 repeat: bool = False, skip_batches: int = 0, augment: tuple = (), max_shift: int = 2) -> tf.data.Dataset:
    """Transformed tf.Examples -> (pixels_xf [B, 784], label [B]) batches; files in sorted order.

    With repeat, the whole infinite stream is fixed by the seed, so skipping the batches a killed run
    had consumed continues it exactly where it stopped. `augment` may hold 'mirror' (flip half the
    images left-right) and 'shift' (move each image by up to max_shift pixels each way, filling with 0): the
    draws are stateless, keyed by (seed, batch number), so a resumed run sees the same batches.
    """
    files = sorted(tf.io.gfile.glob(join(split_dir, "*.tfrecord")))
    if not files:
        raise FileNotFoundError(f"{split_dir}: no .tfrecord files; expected the transform step's output")
    ds = tf.data.TFRecordDataset(files)
    if shuffle_buffer:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size).enumerate()
    if skip_batches:
        ds = ds.skip(skip_batches)
    parse = lambda i, s: (i, tf.io.parse_example(s, features))
    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    pairs = (lambda i, f: (_augmented(f[PIXELS_XF], seed, i, augment, max_shift), f[LABEL])) if augment else \
        (lambda i, f: (f[PIXELS_XF], f[LABEL]))
    return ds.map(pairs, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


ERASE_HALF = 4  # the erased square's side is 2 * ERASE_HALF - 1 = 7 pixels


def _augmented(pixels, seed, batch_number, augment, max_shift):
    images = tf.reshape(pixels, [-1, 28, 28])
    n = tf.shape(images)[0]
    key = lambda k: tf.stack([tf.cast(seed, tf.int64) * 8 + k, batch_number])  # independent draws
    if "mirror" in augment:
        flip = tf.random.stateless_uniform([n], seed=key(1)) < 0.5
        images = tf.where(flip[:, None, None], tf.reverse(images, axis=[2]), images)
    if "shift" in augment:
        dy, dx = (tf.random.stateless_uniform([n], seed=key(k), minval=-max_shift, maxval=max_shift + 1,
                                              dtype=tf.int32) for k in (2, 3))
        # out[i, l] = image[i - dy, l - dx]: one-hot shift matrices (rows that fall outside are zero)
        rows = tf.one_hot(tf.range(28)[None, :] - dy[:, None], 28)
        cols = tf.one_hot(tf.range(28)[None, :] - dx[:, None], 28)
        images = tf.einsum("bij,bjk,blk->bil", rows, images, cols)
    if "erase" in augment:  # cutout: blank a 7x7 square (clipped at the border) in half the images
        cy, cx = (tf.random.stateless_uniform([n], seed=key(k), maxval=28, dtype=tf.int32) for k in (4, 5))
        erase = tf.random.stateless_uniform([n], seed=key(6)) < 0.5
        near = lambda centre: tf.abs(tf.range(28)[None, :] - centre[:, None]) < ERASE_HALF
        box = near(cy)[:, :, None] & near(cx)[:, None, :] & erase[:, None, None]
        images = tf.where(box, tf.zeros_like(images), images)
    return tf.reshape(images, [-1, 28 * 28])


def augmentations(augment: str, mirror_invariant: bool) -> tuple[str, ...]:
    """pipeline.yaml's trainer.augment -> the transformations to apply.

    'auto': mirroring where the classes survive a left-right flip (Fashion-MNIST), shifts otherwise
    (digits). On Fashion-MNIST shifts held the LSTM back: with them it fitted the train split less well
    than it generalized (docs/performance.md "Accuracy")."""
    if augment == "auto":
        return ("mirror",) if mirror_invariant else ("shift",)
    return tuple(a for a in augment.split("+") if a != "none")


def test_time(tta: str, mirror_invariant: bool, dataset: str) -> str:
    """pipeline.yaml's trainer.tta -> 'mirror' or 'none'. 'auto' mirrors where the classes survive a mirror."""
    if tta == "auto":
        return "mirror" if mirror_invariant else "none"
    if tta == "mirror" and not mirror_invariant:
        raise ValueError(f"trainer.tta: 'mirror' needs a dataset whose classes survive a left-right mirror; "
                         f"{dataset} is not declared mirror_invariant")
    return tta


class _StepCounter(keras.callbacks.Callback):
    """Counts the steps this process really ran, and offers a fault point after each (tests kill here)."""

    def __init__(self, ctx, steps_per_epoch):
        super().__init__()
        self.ctx, self.ran, self.epoch, self.per_epoch = ctx, 0, 0, steps_per_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.ran += 1
        self.ctx.fault_point(f"step{self.epoch * (self.per_epoch or 0) + batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        shown = " ".join(f"{k} {logs[k]:.4f}" for k in ("loss", "accuracy", "val_accuracy") if k in logs)
        self.ctx.progress.tick(1, shown)   # epochs, with loss and accuracy, on the console


def consumed_batches(backup: str, steps_per_epoch: int) -> int:
    """Batches a killed run had trained on, from the epoch/batch counters in its Keras checkpoint."""
    latest = tf.train.latest_checkpoint(join(backup, "chief")) if fs.exists(backup) else None
    if not latest:
        return 0
    reader = tf.train.load_checkpoint(latest)
    names = reader.get_variable_to_shape_map()
    value = lambda key: int(reader.get_tensor(next(n for n in names if n.startswith(key))))
    epoch, batch = value("ckpt_saved_epoch"), value("ckpt_saved_batch")
    if epoch < 0:
        return 0
    if batch < 0 or batch == steps_per_epoch - 1:  # saved at an epoch's end (same rule as Keras)
        return (epoch + 1) * steps_per_epoch
    return epoch * steps_per_epoch + batch + 1


def run(ctx, inputs, outputs) -> dict:
    cfg, seed = ctx.params, ctx.params.seed
    keras.utils.set_random_seed(seed)
    if cfg.deterministic:  # same data and seed, same weights: reproducible metrics after a re-run
        tf.config.experimental.enable_op_determinism()
    xf = inputs["transformed_examples"]
    # One seeded, repeated stream with a known epoch length: Keras restores mid-epoch only then, and a
    # resumed run can skip exactly the batches already trained on (see make_dataset).
    train_records = read_file(files.COUNTS, inputs["examples"])["train"]
    steps = cfg.steps_per_epoch or -(-train_records // cfg.batch_size)
    # a step budget caps the epochs, so one setting suits 4,500 images and 60,000 alike
    epochs = min(cfg.epochs, -(-cfg.max_steps // steps)) if cfg.max_steps else cfg.epochs
    backup = join(ctx.pipeline_root, "checkpoints", f"trainer-{ctx.fingerprint[:16]}")
    resumed = fs.exists(backup)
    skip = consumed_batches(backup, steps)
    augment = augmentations(cfg.augment, cfg.mirror_invariant)
    tta = test_time(cfg.tta, cfg.mirror_invariant, cfg.dataset)
    features = input_spec(inputs["transform_graph"])
    train = make_dataset(join(xf, "Split-train"), features, cfg.batch_size, cfg.shuffle_buffer, seed, repeat=True,
                         skip_batches=skip, augment=augment, max_shift=cfg.max_shift)
    evals = make_dataset(join(xf, "Split-eval"), features, cfg.batch_size)
    policy, why = cfg.precision, cfg.precision_reason   # `auto` resolved by the component (precision.py)
    log.info("trainer precision: %s (%s)", policy, why)
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = build_model(cfg.cell_size, cfg.learning_rate, len(cfg.class_names),
                            cfg.bidirectional, cfg.dropout,
                            decay_steps=epochs * steps if cfg.lr_schedule == "cosine" else None,
                            columns=cfg.columns, pool=cfg.pool, label_smoothing=cfg.label_smoothing,
                            weight_decay=cfg.weight_decay, ema=cfg.ema,
                            step_filters=cfg.step_filters)
    finally:
        keras.mixed_precision.set_global_policy("float32")  # process-wide: leave it as found
    counter = _StepCounter(ctx, steps)
    ctx.progress.expect(epochs, "epochs")
    callbacks = [
        keras.callbacks.TensorBoard(log_dir=join(outputs["model_run"], "tensorboard")),
        keras.callbacks.BackupAndRestore(backup_dir=backup, save_freq=cfg.checkpoint_steps or "epoch"),
        counter,
    ]
    stopper = None
    if cfg.early_stopping:   # the eval split picks the epoch; its weights are the model (restored at the end)
        stopper = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=cfg.early_stopping,
                                                restore_best_weights=True)
        callbacks.append(stopper)
    start = time.perf_counter()
    history = model.fit(train, validation_data=evals, epochs=epochs, steps_per_epoch=steps,
                        callbacks=callbacks, verbose=2)
    seconds = time.perf_counter() - start
    ctx.fault_point("mid")  # trained, not exported: the checkpoint lets a rerun skip the training
    export_model(model, inputs["transform_graph"], outputs["model"], cfg.class_names, mirror_average=tta == "mirror")
    fs.rmtree(backup)  # finished: the next run of this work starts from the cache, not a checkpoint
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    write_file(files.HISTORY, outputs["model_run"], hist)   # per epoch: loss, accuracy, val_*
    evals_acc = hist.get("val_accuracy") or [None]
    return {"train_seconds": round(seconds, 2), "epochs": len(hist.get("loss", [])), "steps_run": counter.ran,
            "resumed_from_checkpoint": resumed, "augment": list(augment), "tta": tta, "resumed_after_batches": skip,
            "epochs_planned": epochs, "precision": policy, "precision_reason": why, "best_epoch": (stopper.best_epoch + 1) if stopper else None,
            "eval_accuracy_keras": max(evals_acc) if stopper and evals_acc[0] is not None else evals_acc[-1]}
