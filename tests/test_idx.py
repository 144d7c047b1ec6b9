"""IDX reader: valid files and every malformed case, each with file name, byte offset and expectation."""
import gzip
import struct

import numpy as np
import pytest

from data.idx import IdxError, encode_idx, parse_idx, read_idx_pair, write_idx_gz


def _pair(tmp_path, images, labels, raw_images: bytes | None = None):
    ip, lp = tmp_path / "imgs.gz", tmp_path / "lbls.gz"
    if raw_images is None:
        write_idx_gz(str(ip), images)
    else:
        ip.write_bytes(gzip.compress(raw_images))
    write_idx_gz(str(lp), labels)
    return str(ip), str(lp)


def test_round_trip(tmp_path):
    images = np.arange(3 * 28 * 28, dtype=np.uint32).reshape(3, 28, 28).astype(np.uint8)
    labels = np.array([0, 9, 4], np.uint8)
    got_i, got_l = read_idx_pair(*_pair(tmp_path, images, labels))
    np.testing.assert_array_equal(got_i, images)
    np.testing.assert_array_equal(got_l, labels)


def test_uncompressed_file_is_read(tmp_path):
    path = tmp_path / "lbl"
    path.write_bytes(encode_idx(np.array([1, 2], np.uint8)))
    from data.idx import _read_bytes
    assert parse_idx(_read_bytes(str(path)), str(path), 1).tolist() == [1, 2]


GOOD = encode_idx(np.zeros((2, 28, 28), np.uint8))


@pytest.mark.parametrize("blob, offset, expected", [
    (b"", 0, "file is empty"),
    (b"\x00\x00", 2, "expected a 4-byte magic number"),
    (b"\x12\x34" + GOOD[2:], 0, "bad magic number"),
    (GOOD[:2] + b"\x0d" + GOOD[3:], 2, "expected 0x08 (ubyte)"),
    (GOOD[:3] + b"\x02" + GOOD[4:], 3, "2 dimension(s); expected 3"),
    (GOOD[:4] + struct.pack(">III", 2, 27, 28) + GOOD[16:], 8, "images are 27x28; expected 28x28"),
    (GOOD[:-100], len(GOOD) - 100, "truncated"),
    (GOOD[:10], 10, "inside the header"),
    (GOOD + b"xx", len(GOOD), "trailing bytes"),
])
def test_malformed_images(blob, offset, expected):
    with pytest.raises(IdxError) as err:
        parse_idx(blob, "some/file.gz", expect_ndim=3)
    assert err.value.offset == offset
    assert expected in str(err.value)
    assert str(err.value).startswith(f"some/file.gz: at byte {offset}:")


def test_count_mismatch_names_labels_file(tmp_path):
    ip, lp = _pair(tmp_path, np.zeros((3, 28, 28), np.uint8), np.zeros(2, np.uint8))
    with pytest.raises(IdxError, match=r"lbls.gz: at byte 4: 2 labels; expected 3"):
        read_idx_pair(ip, lp)


@pytest.mark.parametrize("bad", [10, 255])
def test_label_out_of_range(tmp_path, bad):
    ip, lp = _pair(tmp_path, np.zeros((3, 28, 28), np.uint8), np.array([1, bad, 2], np.uint8))
    with pytest.raises(IdxError, match=rf"lbls.gz: at byte 9: label {bad} at index 1; expected 0..9"):
        read_idx_pair(ip, lp)


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "imgs.gz"
    blob = bytearray(gzip.compress(GOOD))
    blob[20:40] = b"\xff" * 20
    path.write_bytes(bytes(blob))
    with pytest.raises(IdxError, match="corrupt or truncated gzip"):
        read_idx_pair(str(path), str(path))


def test_truncated_gzip(tmp_path):
    path = tmp_path / "imgs.gz"
    path.write_bytes(gzip.compress(GOOD)[:-30])
    with pytest.raises(IdxError, match=r"imgs.gz: at byte \d+: corrupt or truncated gzip"):
        read_idx_pair(str(path), str(path))


def _streamed(ip, lp, chunk):
    from data.idx import iter_idx_pair
    parts = list(iter_idx_pair(ip, lp, 10, chunk))
    return parts, np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])


@pytest.mark.parametrize("chunk", [1, 4, 7, 100])
def test_streamed_pair_equals_whole_read_in_chunks(tmp_path, chunk):
    rng = np.random.default_rng(3)
    images, labels = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8), rng.integers(0, 10, 7, dtype=np.uint8)
    ip, lp = _pair(tmp_path, images, labels)
    parts, got_i, got_l = _streamed(ip, lp, chunk)
    assert [p[0] for p in parts] == list(range(0, 7, chunk)) and max(len(p[1]) for p in parts) <= chunk
    np.testing.assert_array_equal(got_i, images)
    np.testing.assert_array_equal(got_l, labels)
    raw = tmp_path / "raw-imgs"               # not gzip: read as it is
    raw.write_bytes(encode_idx(images))
    np.testing.assert_array_equal(_streamed(str(raw), lp, chunk)[1], images)


@pytest.mark.parametrize("raw_images, labels, expected", [
    (GOOD[:-5], np.zeros(2, np.uint8), "imgs.gz: at byte 1579: truncated: 1563 data bytes; expected 1568"),
    (GOOD + b"xyz", np.zeros(2, np.uint8), "imgs.gz: at byte 1584: 3 trailing bytes after the data"),
    (GOOD, np.zeros(3, np.uint8), "lbls.gz: at byte 4: 3 labels; expected 2"),
    (GOOD, np.array([0, 12], np.uint8), "lbls.gz: at byte 9: label 12 at index 1; expected 0..9"),
    (GOOD[:10], np.zeros(2, np.uint8), "imgs.gz: at byte 10: file ends inside the header"),
])
def test_streamed_pair_raises_what_the_whole_read_raises(tmp_path, raw_images, labels, expected):
    ip, lp = _pair(tmp_path, None, labels, raw_images=raw_images)
    with pytest.raises(IdxError) as whole:
        read_idx_pair(ip, lp)
    with pytest.raises(IdxError) as streamed:
        _streamed(ip, lp, 1)
    assert str(whole.value) == str(streamed.value) and f"/{expected}" in str(streamed.value), streamed.value
