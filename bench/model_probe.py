"""A few epochs of candidate `full` models on Fashion-MNIST in memory (no pipeline): seconds per epoch and
test accuracy after each, plain and mirror-averaged. Used to choose trainer.step_filters for `full`.

Every model gets the `full` profile's training: batch 512, Adam 3e-3 along a cosine over the epochs run,
mirror augmentation, dropout 0.4, bfloat16, seed 0. The train images are all 60,000 of the train file (the
pipeline holds 6,000 of them out as its eval split), the test images the 10,000 of the test file.

- full:        the `full` profile's model before step_filters (components/trainer/model.py)
- step_conv:   the same with trainer.step_filters=16 (a 1x5 convolution along each row or column)
- renet:       not ours: ReNet-style sweeps, a BiLSTM down every column of 4x4 patches, then across
               every row of its outputs (Visin et al., 2015), dense on the flattened map
- stem3x3:     not ours: a 3x3 convolution over the image before the readers (a step sees its neighbours)

    python bench/model_probe.py full step_conv --epochs 3
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
FASHION = "/usr/share/datasets/fashion-mnist"


def build(arch: str, epochs_steps: int):
    import tf_keras as keras

    from components.trainer.model import build_model
    if arch in ("full", "step_conv"):
        return build_model(128, 3e-3, 10, bidirectional=True, dropout=0.4, decay_steps=epochs_steps,
                           columns=True, pool="last+max", step_filters=16 if arch == "step_conv" else 0)
    L = keras.layers
    pixels = keras.Input((784,))
    if arch == "renet":
        x = L.Permute((1, 3, 2, 4))(L.Reshape((7, 4, 7, 4))(pixels))
        x = L.Permute((2, 1, 3))(L.Reshape((7, 7, 16))(x))           # [patch column, patch row, 16]
        x = L.TimeDistributed(L.Bidirectional(L.LSTM(64, return_sequences=True, unit_forget_bias=True)))(x)
        x = L.Permute((2, 1, 3))(x)
        x = L.Flatten()(L.TimeDistributed(L.Bidirectional(L.LSTM(64, return_sequences=True, unit_forget_bias=True)))(x))
    elif arch == "stem3x3":
        grid = L.Conv2D(32, 3, padding="same", activation="relu")(L.Reshape((28, 28, 1))(pixels))
        states = []
        for src in (grid, L.Permute((2, 1, 3))(grid)):
            steps = L.Dense(128)(L.Reshape((28, 28 * 32))(src))
            out, fwd, _, bwd, _ = L.Bidirectional(L.LSTM(128, return_sequences=True, return_state=True,
                                                         unit_forget_bias=True))(steps)
            states += [fwd, bwd, L.GlobalMaxPooling1D()(out)]
        x = L.Concatenate()(states)
    else:
        raise SystemExit(f"unknown model {arch!r}: full, step_conv, renet or stem3x3")
    logits = L.Dense(10, dtype="float32")(L.Dropout(0.4)(x))
    model = keras.Model(pixels, logits)
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(3e-3, epochs_steps)),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    from bench.harness import cpu_flags
    from data.idx import read_idx_pair  # the pipeline's reader: checked headers, errors name the file
    train, test = (read_idx_pair(*(os.path.join(FASHION, f"{p}-{k}-idx{n}-ubyte.gz") for k, n in (("images", 3), ("labels", 1))))
                   for p in ("train", "t10k"))
    train_x = (train[0].reshape(-1, 784) / 255.0).astype(np.float32)
    train_y = train[1].astype(np.int64)
    test_x = (test[0].reshape(-1, 784) / 255.0).astype(np.float32)
    test_y = test[1]
    mirrored = test_x.reshape(-1, 28, 28)[:, :, ::-1].reshape(-1, 784)
    print(f"Fashion-MNIST, {args.epochs} epochs each, bfloat16, on {cpu_flags()}", flush=True)

    def mirror(x, y):
        flip = tf.random.uniform([]) < 0.5
        return tf.where(flip, tf.reshape(tf.reverse(tf.reshape(x, (28, 28)), [1]), (784,)), x), y

    for arch in args.models:
        keras.utils.set_random_seed(0)
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        model = build(arch, len(train_x) // 512 * args.epochs)
        data = (tf.data.Dataset.from_tensor_slices((train_x, train_y)).shuffle(60000, seed=0).map(mirror)
                .batch(512, drop_remainder=True).prefetch(2))
        print(f"{arch}: {model.count_params():,} weights", flush=True)
        for epoch in range(args.epochs):
            start = time.perf_counter()
            model.fit(data, initial_epoch=epoch, epochs=epoch + 1, verbose=0)
            seconds = time.perf_counter() - start
            plain = model.predict(test_x, batch_size=1024, verbose=0)
            both = plain + model.predict(mirrored, batch_size=1024, verbose=0)
            print(f"  epoch {epoch + 1}: {seconds:.1f} s, test {np.mean(plain.argmax(1) == test_y):.4f}, "
                  f"mirror-averaged {np.mean(both.argmax(1) == test_y):.4f}", flush=True)
        keras.mixed_precision.set_global_policy("float32")


if __name__ == "__main__":
    main()
