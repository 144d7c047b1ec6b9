"""The tutorial's LSTM: shapes, layer sizes and the forget-gate bias."""
import numpy as np

from modeling.model import build_model

NUM_CLASSES = 10   # these tests' model size


def test_shapes_and_layers():
    model = build_model(cell_size=16, learning_rate=1e-3, num_classes=NUM_CLASSES)
    out = model(np.zeros((3, 784), np.float32))
    assert out.shape == (3, NUM_CLASSES)
    dense_in = model.get_layer("in_hidden")
    assert dense_in.kernel.shape == (28, 16)              # Dense 28 -> cell on each step
    lstm = model.get_layer("lstm")
    assert lstm.return_sequences is False                 # the last state feeds the output layer
    assert model.get_layer("out_hidden").kernel.shape == (16, NUM_CLASSES)
    assert abs(float(model.optimizer.learning_rate) - 1e-3) < 1e-9


def test_forget_bias_starts_at_one():
    lstm = build_model(cell_size=8, learning_rate=1e-3, num_classes=NUM_CLASSES).get_layer("lstm")
    bias = lstm.cell.bias.numpy()                         # gates in order i, f, c, o
    np.testing.assert_array_equal(bias[8:16], np.ones(8))
    np.testing.assert_array_equal(bias[:8], np.zeros(8))


def test_glorot_not_unit_normal_init():
    kernel = build_model(cell_size=64, learning_rate=1e-3, num_classes=NUM_CLASSES).get_layer("in_hidden").kernel.numpy()
    assert kernel.std() < 0.3                             # N(0, 1) would give ~1.0


def test_full_profile_options():
    model = build_model(cell_size=8, learning_rate=2e-3, num_classes=NUM_CLASSES, bidirectional=True, dropout=0.3, decay_steps=100)
    assert model(np.zeros((2, 784), np.float32)).shape == (2, NUM_CLASSES)
    assert model.get_layer("out_hidden").kernel.shape == (16, NUM_CLASSES)   # both directions' last states
    assert model.get_layer("dropout").rate == 0.3
    import tf_keras as keras
    schedule = keras.optimizers.schedules.deserialize(model.optimizer.get_config()["learning_rate"])
    assert abs(float(schedule(0)) - 2e-3) < 1e-9
    assert abs(float(schedule(50)) - 1e-3) < 1e-8                 # cosine: half way, half the rate
    assert float(schedule(100)) < 1e-9


def test_columns_and_pooling_join_each_readers_states():
    model = build_model(cell_size=8, learning_rate=1e-3, num_classes=NUM_CLASSES, bidirectional=True,
                        columns=True, pool="last+max")
    assert model(np.zeros((2, 784), np.float32)).shape == (2, NUM_CLASSES)
    # rows and columns, each: both directions' last states (16) and their maximum over steps (16)
    assert model.get_layer("out_hidden").kernel.shape == (64, NUM_CLASSES)
    assert model.get_layer("col_in_hidden").kernel.shape == (28, 8)


def test_the_column_reader_sees_the_transposed_image():
    import tf_keras as keras
    model = build_model(cell_size=4, learning_rate=1e-3, num_classes=NUM_CLASSES, columns=True)
    steps = keras.Model(model.input, model.get_layer("columns_as_steps").output)
    image = np.arange(784, dtype=np.float32).reshape(28, 28)
    np.testing.assert_array_equal(steps(image.reshape(1, 784))[0], image.T)   # step j = column j


def test_step_filters_encode_each_step_from_its_own_pixels_alone():
    """trainer.step_filters: a convolution along each row (each column for the column reader); a row's
    features change only when that row does, so each step is still one row of the image."""
    import tf_keras as keras
    keras.utils.set_random_seed(0)
    model = build_model(cell_size=8, learning_rate=1e-3, num_classes=NUM_CLASSES, columns=True, step_filters=4)
    assert model(np.zeros((2, 784), np.float32)).shape == (2, NUM_CLASSES)
    assert model.get_layer("in_hidden").kernel.shape == (28 * 4, 8)       # 28 values, 4 filters each
    assert model.get_layer("col_in_hidden").kernel.shape == (28 * 4, 8)
    rows = keras.Model(model.input, [model.get_layer("step_features").output,
                                     model.get_layer("col_step_features").output])
    image = np.random.default_rng(0).random((1, 784), np.float32)
    changed = image.copy().reshape(28, 28)
    changed[5, 10] += 1.0                                                  # one pixel: row 5, column 10
    (row_a, col_a), (row_b, col_b) = [[t.numpy() for t in rows(x)] for x in (image, changed.reshape(1, 784))]
    assert np.flatnonzero(np.abs(row_a[0] - row_b[0]).max(axis=1) > 0).tolist() == [5]
    assert np.flatnonzero(np.abs(col_a[0] - col_b[0]).max(axis=1) > 0).tolist() == [10]


def test_the_backward_last_state_has_read_every_row():
    import tf_keras as keras
    model = build_model(cell_size=4, learning_rate=1e-3, num_classes=NUM_CLASSES, bidirectional=True, pool="last+max")
    last = keras.Model(model.input, model.get_layer("last_states").output)
    image = np.random.default_rng(0).random((1, 784), np.float32)
    changed = image.copy()
    changed[0, :28] += 1.0   # only the first row: the backward LSTM reads it last, so only its final state sees it
    before, after = last(image).numpy()[0], last(changed).numpy()[0]
    assert not np.allclose(before[4:], after[4:])    # (its output at the last step has read only the last row)


def _transformed_records(path, n):
    import tensorflow as tf
    with tf.io.TFRecordWriter(str(path)) as w:
        for i in range(n):
            img = np.zeros((28, 28), np.float32)
            img[:, 0] = i + 1                                 # a left column: mirrored, it moves right
            ex = tf.train.Example()
            ex.features.feature["pixels_xf"].float_list.value.extend(img.ravel().tolist())
            ex.features.feature["label"].int64_list.value.append(i % 10)
            w.write(ex.SerializeToString())


def test_mirror_augment_is_seeded_per_batch_and_survives_a_skip(tmp_path):
    from modeling.inputs import make_dataset
    _transformed_records(tmp_path / "part-0.tfrecord", 64)
    def batches(skip):
        ds = make_dataset(str(tmp_path), _SPEC(), 16, shuffle_buffer=64, seed=3, repeat=True, skip_batches=skip, augment=("mirror",))
        return [(x.numpy(), y.numpy()) for x, y in ds.take(6)]
    full, resumed = batches(0), batches(2)
    for (xa, ya), (xb, yb) in zip(full[2:], resumed):          # a resumed run sees the same batches
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    images = np.concatenate([x for x, _ in full]).reshape(-1, 28, 28)
    mirrored = images[:, :, 27].any(axis=1)
    assert np.all(images[:, :, 0].any(axis=1) != mirrored)      # each image is either as is or mirrored
    assert 0.3 < mirrored.mean() < 0.7
    values = images.max(axis=(1, 2)).astype(int) - 1
    labels = np.concatenate([y for _, y in full])
    np.testing.assert_array_equal(values % 10, labels)         # labels travel with their images


def test_shift_moves_whole_images_by_at_most_two_pixels(tmp_path):
    from modeling.inputs import augmentations, make_dataset
    assert augmentations("auto", True) == ("mirror",) and augmentations("auto", False) == ("shift",)
    assert augmentations("none", False) == () and augmentations("mirror+shift", False) == ("mirror", "shift")
    import tensorflow as tf
    img = np.zeros((28, 28), np.float32)
    img[10:14, 12:15] = 1.0                                     # a 4x3 block well inside the frame
    with tf.io.TFRecordWriter(str(tmp_path / "p.tfrecord")) as w:
        for i in range(32):
            ex = tf.train.Example()
            ex.features.feature["pixels_xf"].float_list.value.extend(img.ravel().tolist())
            ex.features.feature["label"].int64_list.value.append(1)
            w.write(ex.SerializeToString())
    for max_shift, kinds in ((2, 6), (1, 4)):   # at least this many of the (2m+1)^2 moves in 32 draws
        (x, _), = make_dataset(str(tmp_path), _SPEC(), 32, seed=5, augment=("shift",), max_shift=max_shift).take(1)
        moves = set()
        for out in x.numpy().reshape(-1, 28, 28):
            ys, xs = np.nonzero(out)
            assert out.sum() == img.sum() and (np.ptp(ys), np.ptp(xs)) == (3, 2)       # the block, intact
            moves.add((ys.min() - 10, xs.min() - 12))
        assert all(abs(dy) <= max_shift and abs(dx) <= max_shift for dy, dx in moves) and len(moves) >= kinds


def test_mixed_bfloat16_computes_in_bf16_and_returns_float32_logits():
    import tf_keras as keras
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_model(cell_size=8, learning_rate=1e-3, num_classes=NUM_CLASSES, bidirectional=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.get_layer("bi_lstm").compute_dtype == "bfloat16"
    assert model.get_layer("in_hidden").kernel.dtype == "float32"            # weights stay float32
    assert model(np.ones((2, 784), np.float32)).dtype == "float32"


def _SPEC():
    import tensorflow as tf
    return {"pixels_xf": tf.io.FixedLenFeature([784], tf.float32), "label": tf.io.FixedLenFeature([], tf.int64)}


def test_precision_auto_follows_the_hardware(tmp_path):
    from modeling.precision import choose, cpu_flags
    assert choose("auto", {"avx2", "fma", "avx512f", "avx512_bf16"}, gpus=0)[0] == "mixed_bfloat16"
    assert choose("auto", {"avx2", "fma", "amx_bf16", "amx_tile"}, gpus=0)[0] == "mixed_bfloat16"
    policy, why = choose("auto", {"avx2", "fma", "avx512f"}, gpus=0)
    assert policy == "float32" and "emulated" in why
    assert choose("auto", set(), gpus=1) == ("mixed_bfloat16", "auto: 1 GPU(s) visible")
    assert choose("float32", {"avx512_bf16"}, gpus=1)[0] == "float32"      # an explicit setting wins
    info = tmp_path / "cpuinfo"
    info.write_text("processor : 0\nflags\t\t: fpu sse2 avx2 avx512_bf16\n")
    assert cpu_flags(str(info)) == {"fpu", "sse2", "avx2", "avx512_bf16"}


def test_tutorial_profile_has_the_tutorials_settings():
    import os

    from cli.config import load_config
    t = load_config(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pipeline.yaml"),
                    profile="tutorial").trainer
    assert (t.cell_size, t.batch_size, t.learning_rate, t.lr_schedule, t.augment) == (256, 256, 0.001, "constant", "none")
    assert t.epochs * t.steps_per_epoch == 10000 and t.max_steps is None and t.early_stopping is None


def test_erase_blanks_one_small_square_in_about_half_the_images(tmp_path):
    from modeling.inputs import ERASE_HALF, augmentations, make_dataset
    assert augmentations("mirror+erase", True) == ("mirror", "erase")
    import tensorflow as tf
    with tf.io.TFRecordWriter(str(tmp_path / "p.tfrecord")) as w:
        for i in range(64):   # images filled with label + 1, so a blank pixel cannot be the image's own
            ex = tf.train.Example()
            ex.features.feature["pixels_xf"].float_list.value.extend([i % 10 + 1.0] * 784)
            ex.features.feature["label"].int64_list.value.append(i % 10)
            w.write(ex.SerializeToString())
    (x, y), = make_dataset(str(tmp_path), _SPEC(), 64, seed=4, augment=("erase",)).take(1)
    images, erased = x.numpy().reshape(-1, 28, 28), 0
    for img, label in zip(images, y.numpy()):
        zeros = img == 0
        assert np.all(img[~zeros] == label + 1)
        if zeros.any():
            erased += 1
            rows, cols = np.nonzero(zeros)
            side = 2 * ERASE_HALF - 1
            assert np.ptp(rows) < side and np.ptp(cols) < side                   # one small square
            assert zeros.sum() == (np.ptp(rows) + 1) * (np.ptp(cols) + 1)        # a filled rectangle
    assert 16 < erased < 48


def test_mirror_average_serves_the_same_answer_for_an_image_and_its_mirror():
    from components.trainer.export import mirrored, served_logits
    from modeling.inputs import test_time
    model = build_model(cell_size=8, learning_rate=1e-3, num_classes=NUM_CLASSES)
    x = np.random.default_rng(0).random((4, 784)).astype(np.float32)
    flipped = mirrored(x).numpy()
    np.testing.assert_array_equal(flipped.reshape(-1, 28, 28), x.reshape(-1, 28, 28)[:, :, ::-1])
    plain, averaged = served_logits(model, x, False).numpy(), served_logits(model, x, True).numpy()
    assert not np.allclose(plain, model(flipped).numpy(), atol=1e-4)      # the model itself is not symmetric
    np.testing.assert_allclose(averaged, (plain + model(flipped).numpy()) / 2, atol=1e-5)
    np.testing.assert_allclose(served_logits(model, flipped, True).numpy(), averaged, atol=1e-5)
    assert (test_time("auto", True, "f"), test_time("auto", False, "d"), test_time("none", True, "f")) == \
        ("mirror", "none", "none")
    import pytest
    with pytest.raises(ValueError, match="trainer.tta: 'mirror' needs .* mnist is not declared mirror_invariant"):
        test_time("mirror", False, "mnist")


def test_smoothed_loss_is_cross_entropy_against_smoothed_targets():
    import tensorflow as tf

    from modeling.model import smoothed_loss
    logits = tf.constant([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
    labels = tf.constant([0, 2], tf.int64)
    targets = 0.9 * tf.one_hot(labels, 3) + 0.1 / 3
    expected = tf.keras.losses.categorical_crossentropy(targets, logits, from_logits=True).numpy()
    np.testing.assert_allclose(smoothed_loss(0.1)(labels, logits).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(smoothed_loss(0.1)(tf.reshape(labels, [-1, 1]), logits).numpy(), expected, rtol=1e-5)
    model = build_model(8, 1e-3, NUM_CLASSES, label_smoothing=0.1, weight_decay=0.01)
    assert type(model.optimizer).__name__ == "AdamW" and model.loss.__name__ == "smoothed_cross_entropy"
    x, y = np.random.default_rng(1).random((8, 784)).astype(np.float32), np.arange(8) % NUM_CLASSES
    assert np.isfinite(model.train_on_batch(x, y)[0])


def test_ema_model_ends_as_the_moving_average_of_its_weights():
    """trainer.ema: fit ends with the averaged weights in the model, not the last step's."""
    x, y = np.random.default_rng(2).random((64, 784)).astype(np.float32), np.arange(64) % NUM_CLASSES
    plain = build_model(8, 1e-2, NUM_CLASSES)
    assert not plain.optimizer.use_ema
    model = build_model(8, 1e-2, NUM_CLASSES, ema=0.5)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    averaged = model.optimizer._model_variables_moving_average   # tf_keras keeps the average here
    assert model.optimizer.use_ema and model.optimizer.ema_momentum == 0.5
    assert all(np.array_equal(a.numpy(), v.numpy()) for a, v in zip(averaged, model.trainable_variables))
