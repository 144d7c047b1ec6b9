"""The tutorial's LSTM: shapes, layer sizes and the forget-gate bias."""
import numpy as np

from components.trainer.model import NUM_CLASSES, build_model


def test_shapes_and_layers():
    model = build_model(cell_size=16, learning_rate=1e-3)
    out = model(np.zeros((3, 784), np.float32))
    assert out.shape == (3, NUM_CLASSES)
    dense_in = model.get_layer("in_hidden")
    assert dense_in.kernel.shape == (28, 16)              # Dense 28 -> cell on each step
    lstm = model.get_layer("lstm")
    assert lstm.return_sequences is False                 # the last state feeds the output layer
    assert model.get_layer("out_hidden").kernel.shape == (16, NUM_CLASSES)
    assert abs(float(model.optimizer.learning_rate) - 1e-3) < 1e-9


def test_forget_bias_starts_at_one():
    lstm = build_model(cell_size=8, learning_rate=1e-3).get_layer("lstm")
    bias = lstm.cell.bias.numpy()                         # gates in order i, f, c, o
    np.testing.assert_array_equal(bias[8:16], np.ones(8))
    np.testing.assert_array_equal(bias[:8], np.zeros(8))


def test_glorot_not_unit_normal_init():
    kernel = build_model(cell_size=64, learning_rate=1e-3).get_layer("in_hidden").kernel.numpy()
    assert kernel.std() < 0.3                             # N(0, 1) would give ~1.0
