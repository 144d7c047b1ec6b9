"""Trainer executor: fit the LSTM on transformed examples, log to TensorBoard, export a SavedModel.

Runs where the orchestrator runs (not on Beam). Checkpoints (Keras BackupAndRestore) go to
<root>/checkpoints/trainer-<fingerprint>: outside the run, keyed by what is being trained, so a killed
trainer resumes from its last checkpoint when the same command runs again.
"""
from __future__ import annotations

import logging
import time

import tensorflow as tf
import tf_keras as keras

from components.trainer.export import export_model
from contract import artifacts as files
from modeling.inputs import augmentations, input_spec, make_dataset, test_time
from modeling.model import from_knobs
from pipeline import fs
from pipeline.artifacts import join, read_file, write_file
from pipeline.spec import Params

log = logging.getLogger(__name__)


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
    # with the tuner in the run, its chosen values replace those keys of pipeline.yaml's trainer section (as
    # TFX's Trainer takes `hyperparameters`); the tuner's artifact is an input, so its digest is in our key
    tuned = read_file(files.BEST_HYPERPARAMETERS, inputs["best_hyperparameters"])["values"] \
        if "best_hyperparameters" in inputs else {}
    cfg = Params({**ctx.params, **tuned})
    seed = cfg.seed
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
    log.info("trainer precision: %s (%s)", cfg.precision, cfg.precision_reason)   # `auto` resolved by the component
    model = from_knobs(cfg, len(cfg.class_names), epochs * steps)
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
            "epochs_planned": epochs, "tuned": tuned, "precision": cfg.precision, "precision_reason": cfg.precision_reason, "best_epoch": (stopper.best_epoch + 1) if stopper else None,
            "eval_accuracy_keras": max(evals_acc) if stopper and evals_acc[0] is not None else evals_acc[-1]}
