"""One trial's turn on a Beam worker: train the trainer's model (modeling/: one builder, one input function)
with the trial's values from where its last turn stopped up to this turn's epoch budget, then score it on the
eval split. Its checkpoint and result lie in the trial's folder under the pipeline root (gs:// included), so
the next turn (on any worker) and a rerun of a killed search (components/tuner/search.py) start from there.

A task (a dict, the Beam element):
    trial, rung, start_epoch, end_epoch, max_epochs   which turn, and its budget in epochs
    values                                            the trainer's params with the trial's values over them
    examples, transform_graph, train_records, folder  where the data are, and the trial's own folder
    threads                                           TensorFlow threads (the cores shared by the trials at once)
"""
from __future__ import annotations

import math
import os
import socket
import time

from pipeline.artifacts import join, read_json, write_json


def result_path(folder: str, rung: int) -> str:
    return join(folder, f"rung-{rung}.json")


def run_task(task: dict) -> dict:
    """Train one turn and write its result (also returned): status 'ok' with the eval accuracy after each
    epoch, or 'failed' with the reason (a NaN loss, an exception); never raises for the trial's own fault."""
    started = time.time()
    where = f"{socket.gethostname()}:{os.getpid()}"
    try:
        result = _train(task)
    except Exception as e:   # out of memory, a bad value for this model: the trial fails, the search goes on
        result = {"status": "failed", "reason": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300],
                  "accuracy": None, "curve": [], "loss": []}
    result.update(trial=task["trial"], rung=task["rung"], epochs=task["end_epoch"], worker=where,
                  started=round(started, 3), ended=round(time.time(), 3),
                  seconds=round(time.time() - started, 2))
    write_json(result_path(task["folder"], task["rung"]), result)
    if task["rung"]:   # recorded: a rerun no longer needs the checkpoint this turn started from
        _forget(join(task["folder"], "checkpoint", f"turn-{task['rung'] - 1}"))
    return result


def _threads(n: int) -> None:
    import tensorflow as tf
    try:   # only before TensorFlow's first op in this process; a warm worker keeps what it has
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:
        pass


def _train(task: dict) -> dict:
    _threads(task["threads"])
    import tensorflow as tf
    import tf_keras as keras

    from modeling.inputs import augmentations, input_spec, make_dataset
    from modeling.model import from_knobs

    v = task["values"]
    steps = v["steps_per_epoch"] or -(-task["train_records"] // v["batch_size"])
    keras.utils.set_random_seed(v["seed"] + 1000 * task["trial"])
    features = input_spec(task["transform_graph"])
    augment = augmentations(v["augment"], v["mirror_invariant"])
    train = make_dataset(join(task["examples"], "Split-train"), features, v["batch_size"], v["shuffle_buffer"],
                         v["seed"], repeat=True, skip_batches=task["start_epoch"] * steps, augment=augment,
                         max_shift=v["max_shift"])
    evals = make_dataset(join(task["examples"], "Split-eval"), features, v["batch_size"])
    # the cosine runs over the trial's whole budget: a turn goes on along the schedule it started
    model = from_knobs(v, len(v["class_names"]), task["max_epochs"] * steps)
    model.optimizer.build(model.trainable_variables)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    prefix = join(task["folder"], "checkpoint", "turn")
    if task["rung"]:
        checkpoint.read(join(task["folder"], "checkpoint", f"turn-{task['rung'] - 1}")).assert_consumed()
    history = model.fit(train, validation_data=evals, initial_epoch=task["start_epoch"], epochs=task["end_epoch"],
                        steps_per_epoch=steps, callbacks=[keras.callbacks.TerminateOnNaN()], verbose=0).history
    losses = [float(x) for x in history.get("loss", [])]
    curve = [float(x) for x in history.get("val_accuracy", [])]
    if not losses or any(not math.isfinite(x) for x in losses) or len(curve) < len(losses):
        epoch = task["start_epoch"] + len(losses)
        return {"status": "failed", "reason": f"the loss became NaN or infinite in epoch {epoch}",
                "accuracy": None, "curve": curve, "loss": losses}
    checkpoint.write(f"{prefix}-{task['rung']}")
    return {"status": "ok", "reason": "", "accuracy": curve[-1], "curve": curve, "loss": losses}


def _forget(prefix: str) -> None:
    import tensorflow as tf
    for path in tf.io.gfile.glob(prefix + ".*"):
        tf.io.gfile.remove(path)


def finished(folder: str, rung: int) -> dict | None:
    """The recorded result of a trial's turn, or None when it has not finished (a killed search's rerun)."""
    from pipeline import fs
    path = result_path(folder, rung)
    return read_json(path) if fs.exists(path) else None
