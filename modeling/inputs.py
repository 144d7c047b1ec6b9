"""The trainer's input function: transformed tf.Examples of a split -> (pixels, label) batches, seeded and
resumable, with the augmentations pipeline.yaml's trainer.augment names. Used by the trainer and by the
tuner's trials alike.

    python -c "from modeling.inputs import augmentations; print(augmentations('auto', True))"
"""
from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from contract.records import LABEL, PIXELS_XF
from pipeline.artifacts import join


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
