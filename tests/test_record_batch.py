"""contract/record_batch.py: a chunk of raw records at once, byte for byte what to_sequence_example writes."""
import numpy as np
import pytest

from contract.features import bucket_edges, bucket_of, properties
from contract.record_batch import buckets, to_examples, to_sequence_examples
from contract.records import to_sequence_example


def _one_by_one(images, labels, ids, edges, props):
    return [to_sequence_example(images[i], int(labels[i]), ids[i], edges, {k: float(v[i]) for k, v in props.items()})
            for i in range(len(images))]


def _chunk(n, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    images[0] = 0                                   # a blank image: zero width, height and slant
    return images, rng.integers(0, 10, n), [f"fashion_mnist/train/{i:05d}" for i in range(n)]


def test_same_bytes_as_one_record_at_a_time():
    images, labels, ids = _chunk(300)
    props = properties(images)
    edges = {k: bucket_edges(v, 10) for k, v in props.items()}
    assert to_sequence_examples(images, labels, ids, edges, props) == _one_by_one(images, labels, ids, edges, props)


def test_without_edges_or_properties_as_to_sequence_example_does():
    images, labels, ids = _chunk(20, seed=1)
    expected = [to_sequence_example(images[i], int(labels[i]), ids[i]) for i in range(20)]
    assert to_sequence_examples(images, labels, ids, None, None) == expected


def test_records_off_the_shared_layout_are_still_exact():
    images, labels, ids = _chunk(40, seed=2)
    labels[3], labels[7] = 200, 128                 # two-byte varints
    ids[5] = "custom/train/cats/a-much-longer-file-name.png"
    ids[9] = "x"
    props = properties(images)
    edges = {k: bucket_edges(v, 20) for k, v in props.items()}
    assert to_sequence_examples(images, labels, ids, edges, props) == _one_by_one(images, labels, ids, edges, props)


def test_long_image_ids_share_a_layout_too():
    images, labels, _ = _chunk(5, seed=3)
    ids = [f"dataset/train/{'d' * 140}/{i:03d}.png" for i in range(5)]   # lengths > 127: two-byte varints
    props = properties(images)
    assert to_sequence_examples(images, labels, ids, {}, props) == _one_by_one(images, labels, ids, {}, props)


@pytest.mark.parametrize("edges", [[], [0.5], [0.1, 0.2, 0.2, 0.9]])
def test_buckets_match_bucket_of(edges):
    values = np.array([0.0, 0.1, 0.15, 0.2, 0.5, 0.9, 1.0, np.float32(0.1)], np.float32)
    assert buckets(values, edges).tolist() == [bucket_of(float(v), edges) for v in values]


def test_an_empty_chunk():
    assert to_sequence_examples(np.zeros((0, 28, 28), np.uint8), [], [], None, None) == []


def test_transformed_examples_are_the_wire_encoders_bytes():
    from contract import wire
    values = np.random.default_rng(4).random((50, 784), np.float32)
    labels = np.arange(50) % 10
    labels[7] = 300                                  # a two-byte varint: encoded on its own
    expected = [wire.example({"pixels_xf": wire.float_feature(v), "label": wire.int64_feature((int(y),))})
                for v, y in zip(values, labels)]
    assert to_examples(values, labels, "pixels_xf", "label") == expected
    assert to_examples(values[:0], labels[:0], "pixels_xf", "label") == []
