"""Ingest transforms on a handful of records, with TestPipeline and labelled assert_that."""
import glob
import hashlib

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from components.ingest.transforms import ChunksToRecords, ImagesToRecords, split_of
from contract.records import IMAGE_ID, INK, LABEL, PIXELS, stable_fraction, to_sequence_example
from contract.shards import WriteShards, tfrecord
from tests.conftest import RUNNER


def _items(n=6, source="train"):
    rng = np.random.default_rng(1)
    return [(source, i, rng.integers(0, 256, (28, 28), dtype=np.uint8), i % 10) for i in range(n)]


def _ids_and_labels(records):
    out = []
    for image_id, blob in records:
        ex = tf.train.SequenceExample.FromString(blob)
        rows = ex.feature_lists.feature_list[PIXELS].feature
        assert len(rows) == 28 and all(len(r.float_list.value) == 28 for r in rows)
        assert ex.context.feature[IMAGE_ID].bytes_list.value[0].decode() == image_id
        out.append((image_id, ex.context.feature[LABEL].int64_list.value[0]))
    return out


def test_records_go_to_their_split():
    items = _items(8) + _items(3, "test")
    expected = {"train": [], "eval": [], "test": []}
    for source, i, _, label in items:
        image_id = f"tiny/{source}/{i:05d}"
        expected[split_of(source, image_id, 0.3, 7)].append((image_id, label))
    assert expected["train"] and expected["eval"] and len(expected["test"]) == 3
    with TestPipeline(runner=RUNNER) as p:
        out = p | beam.Create(items) | ImagesToRecords("tiny", 0.3, 7)
        for split in ("train", "eval", "test"):
            ids = out[split] | f"Collect{split}" >> beam.combiners.ToList() | f"Decode{split}" >> beam.Map(_ids_and_labels)
            assert_that(ids, _sorted_equals(expected[split]), label=f"Check{split.capitalize()}")
        assert_that(out.malformed, equal_to([]), label="NoMalformed")


def _sorted_equals(expected):
    """A matcher for one collected list whose order does not matter."""
    def check(actual):
        assert len(actual) == 1 and sorted(actual[0]) == sorted(expected), (actual, expected)
    return check


def test_malformed_records_are_tagged_not_dropped():
    good = _items(2)
    bad = [("train", 7, np.zeros((27, 28), np.uint8), 1), ("train", 8, np.zeros((28, 28), np.uint8), 12)]
    with TestPipeline(runner=RUNNER) as p:
        out = p | beam.Create(good + bad) | ImagesToRecords("tiny", 0.5, 0)
        assert_that(out.malformed, equal_to([
            "tiny/train/00007: image shape (27, 28); expected (28, 28)",
            "tiny/train/00008: label 12; expected 0..9"]), label="CheckMalformed")
        assert_that((out.train, out.eval) | beam.Flatten() | beam.Map(lambda kv: kv[0]),
                    equal_to(["tiny/train/00000", "tiny/train/00001"]), label="CheckGood")


def _chunk_file(path, labels, splits, seed=3):
    from contract.features import properties
    images = np.random.default_rng(seed).integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)
    np.savez(path, images=images, labels=np.asarray(labels, np.uint8), splits=np.asarray(splits),
             **{f"prop_{k}": v for k, v in properties(images).items()})
    return images


def test_a_chunk_is_encoded_at_once_into_each_split_and_bad_labels_are_tagged(tmp_path):
    labels = [3, 1, 4, 1, 5, 9, 2, 6, 11, 5]            # one label out of range for 10 classes
    splits = [split_of("train", f"tiny/train/{100 + i:05d}", 0.3, 7) for i in range(len(labels))]
    images = _chunk_file(tmp_path / "train-00000100.npz", labels, splits)
    edges = {"ink": [0.3, 0.5]}
    expected = {"train": [], "eval": []}
    for i, label in enumerate(labels):
        image_id = f"tiny/train/{100 + i:05d}"
        if label < 10:
            expected[splits[i]].append((image_id, to_sequence_example(images[i], label, image_id, edges)))
    assert expected["train"] and expected["eval"]
    with TestPipeline(runner=RUNNER) as p:
        out = (p | beam.Create([("train", str(tmp_path / "train-00000100.npz"), 100, 110)])
               | ChunksToRecords("tiny", edges))
        for split in ("train", "eval"):   # one list per split and chunk, records as one at a time writes them
            assert_that(out[split], equal_to([expected[split]]), label=f"Check{split.capitalize()}")
        assert_that(out.test, equal_to([]), label="NoTest")
        assert_that(out.malformed, equal_to(["tiny/train/00108: label 11; expected 0..9"]), label="CheckMalformed")


def test_split_is_stable_and_seeded():
    ids = [f"mnist/train/{i:05d}" for i in range(2000)]
    first = [split_of("train", i, 0.1, 42) for i in ids]
    assert first == [split_of("train", i, 0.1, 42) for i in ids]
    assert 150 < first.count("eval") < 250  # about 10%
    assert first != [split_of("train", i, 0.1, 43) for i in ids]  # the seed matters
    assert 0 <= stable_fraction("x", 1) < 1


def _write(tmp_path, name, records, options=None, run_bytes=1 << 20):
    with TestPipeline(runner=RUNNER, options=options) as p:
        out = p | beam.Create(records) | WriteShards(str(tmp_path / name / "data"), 3, str(tmp_path / "tmp"), run_bytes)
        assert_that(out | beam.Map(lambda pc: pc[1]) | beam.CombineGlobally(sum), equal_to([len(records)]),
                    label="CountWritten")
    return {f.split("/")[-1]: hashlib.sha256(open(f, "rb").read()).hexdigest()
            for f in glob.glob(str(tmp_path / name / "*"))}


def test_shards_are_byte_identical_whatever_the_order_and_worker_count(tmp_path):
    records = [(f"tiny/train/{i:05d}", to_sequence_example(img, lbl, f"tiny/train/{i:05d}"))
               for _, i, img, lbl in _items(30)]
    a = _write(tmp_path, "a", records)
    b = _write(tmp_path, "b", list(reversed(records)))
    mp = PipelineOptions(["--direct_running_mode=multi_processing", "--direct_num_workers=2"])
    c = _write(tmp_path, "c", records[10:] + records[:10], options=mp)
    d = _write(tmp_path, "d", records, run_bytes=8000)  # two records per sorted run: many runs per shard
    assert len(a) == 3 and a == b == c == d
    assert not glob.glob(str(tmp_path / "tmp" / "*" / "*.run"))  # merged runs are deleted


def test_shards_hold_every_record_once_sorted_by_image_id(tmp_path):
    records = [(f"tiny/train/{i:05d}", f"record {i} ".encode() * 50) for i in range(200)]
    _write(tmp_path, "s", records[::-1], run_bytes=3000)
    seen = []
    for path in sorted(glob.glob(str(tmp_path / "s" / "*"))):
        blobs = [r.numpy() for r in tf.data.TFRecordDataset(path)]
        assert blobs == sorted(blobs, key=lambda b: int(b.split()[1]))
        seen += blobs
    assert sorted(seen) == sorted(blob for _, blob in records)


def test_tfrecord_framing_is_tensorflows_to_the_byte(tmp_path):
    blobs = [b"", b"x", bytes(range(256)) * 40, to_sequence_example(np.eye(28, dtype=np.uint8), 7, "m/t/1")]
    with tf.io.TFRecordWriter(str(tmp_path / "tf.tfrecord")) as w:
        for blob in blobs:
            w.write(blob)
    assert b"".join(tfrecord(b) for b in blobs) == (tmp_path / "tf.tfrecord").read_bytes()
    tampered = bytearray(tfrecord(b"abc"))
    tampered[-1] ^= 1    # the data's CRC is checked by TensorFlow's reader: a wrong one must not pass
    (tmp_path / "bad.tfrecord").write_bytes(bytes(tampered))
    with pytest.raises(tf.errors.DataLossError):
        list(tf.data.TFRecordDataset(str(tmp_path / "bad.tfrecord")))


def test_sequence_example_contract():
    img = np.tile(np.arange(28, dtype=np.uint8), (28, 1))
    ex = tf.train.SequenceExample.FromString(to_sequence_example(img, 3, "m/train/00001"))
    assert list(ex.feature_lists.feature_list[PIXELS].feature[5].float_list.value) == list(range(28))
    assert ex.context.feature[LABEL].int64_list.value[0] == 3
    assert abs(ex.context.feature[INK].float_list.value[0] - img.mean() / 255) < 1e-6


def test_properties_in_chunks_equal_the_whole_batch():
    from contract.features import properties, properties_in_chunks
    images = np.random.default_rng(0).integers(0, 256, (1000, 28, 28)).astype(np.uint8)
    whole, chunked = properties(images), properties_in_chunks(images, chunk=300)
    assert all(np.array_equal(whole[k], chunked[k]) for k in whole)
    assert all(len(v) == 0 for v in properties_in_chunks(images[:0]).values())


def test_a_test_split_is_carved_from_train_only_where_there_is_no_test_file():
    """Without a test file, a share of the training file becomes the test split: the eval split (which
    chooses the model) is the same records as without carving, and the test split shares none with it."""
    ids = [f"mnist/train/{i:05d}" for i in range(4000)]
    plain = [split_of("train", i, 0.1, 42) for i in ids]
    carved = [split_of("train", i, 0.1, 42, test_fraction=0.1) for i in ids]
    assert [i for i, s in zip(ids, carved) if s == "eval"] == [i for i, s in zip(ids, plain) if s == "eval"]
    assert 300 < carved.count("test") < 500 and carved.count("train") == plain.count("train") - carved.count("test")
    assert split_of("test", "mnist/test/00001", 0.1, 42, test_fraction=0.1) == "test"
