"""The hand-written wire encoder emits exactly protobuf's deterministic bytes."""
import numpy as np
import tensorflow as tf

from contract import wire
from contract.features import properties
from contract.records import sequence_example_proto, to_sequence_example


def test_raw_records_equal_the_protobuf_reference():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8)
    images[0], images[1] = 0, 255
    props = properties(images)
    edges = {"ink": [0.1, 0.3, 0.5], "slant": [-12.5, 0.0, 12.5], "width": []}
    for i, image in enumerate(images):
        p = {k: float(v[i]) for k, v in props.items()}
        image_id = f"fashion_mnist/train/{i:05d}"
        ours = to_sequence_example(image, i % 10, image_id, edges, p)
        reference = sequence_example_proto(image, i % 10, image_id, edges, p)
        assert ours == reference.SerializeToString(deterministic=True), image_id
        assert tf.train.SequenceExample.FromString(ours) == reference


def test_examples_equal_protobuf_for_odd_values_and_keys():
    floats = np.array([0.0, -0.0, 1e-45, -3.5, np.inf, np.nan, 3.4e38], np.float32)
    features = {"pixels_xf": wire.float_feature(floats), "label": wire.int64_feature((7,)),
                "neg": wire.int64_feature((-1, 300, 2**40)), "empty": wire.int64_feature(()),
                "a": wire.bytes_feature((b"", b"x" * 200)), "ab": wire.float_feature((0.1,)),
                "b": wire.float_feature((1e39,))}
    ex = tf.train.Example()
    f = ex.features.feature
    f["pixels_xf"].float_list.value.extend(floats.tolist())
    f["label"].int64_list.value.append(7)
    f["neg"].int64_list.value.extend([-1, 300, 2**40])
    f["empty"].int64_list.SetInParent()
    f["a"].bytes_list.value.extend([b"", b"x" * 200])
    f["ab"].float_list.value.append(0.1)
    f["b"].float_list.value.append(1e39)  # beyond float32: inf
    assert wire.example(features) == ex.SerializeToString(deterministic=True)


def test_varint_matches_protobuf_lengths():
    for n in (0, 1, 127, 128, 16383, 16384, 2**35, -1):
        ex = tf.train.Example()
        ex.features.feature["v"].int64_list.value.append(n)
        assert wire.example({"v": wire.int64_feature((n,))}) == ex.SerializeToString(deterministic=True), n
