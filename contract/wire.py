"""Protobuf wire encoding of `tf.train.Example` and `tf.train.SequenceExample`, without building protos.

Filling a tf.train proto from Python costs ~90-160 µs per 28x28 image (STACK.md); most of it is
per-value work the wire format does not need: a packed float list is the little-endian float32 bytes
behind a length. These functions emit exactly what `SerializeToString(deterministic=True)` emits
(map keys sorted), which tests/test_wire.py checks against protobuf itself.

    python -c "from contract.wire import example, int64_feature; print(example({'y': int64_feature([3])}))"
"""
from __future__ import annotations

import functools
import struct

import numpy as np

_ONE_BYTE = [bytes((i,)) for i in range(128)]


def varint(n: int) -> bytes:
    """Base-128 varint; negative int64 values take ten bytes, as in protobuf."""
    if 0 <= n < 128:
        return _ONE_BYTE[n]
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): tag, length, payload."""
    return bytes([(number << 3) | 2]) + varint(len(payload)) + payload


def _packed(payload: bytes) -> bytes:
    # proto3 writes nothing at all for an empty repeated field
    return _field(1, payload) if payload else b""


def int64_feature(values) -> bytes:
    """Feature{int64_list{value: values}}."""
    return _field(3, _packed(b"".join(varint(int(v)) for v in values)))


def float_feature(values) -> bytes:
    """Feature{float_list{value: values}}; values are rounded to float32 as protobuf does."""
    if isinstance(values, tuple):  # a few Python floats: struct is ~5x cheaper than a NumPy array
        try:
            return _field(2, _packed(struct.pack(f"<{len(values)}f", *values)))
        except OverflowError:  # beyond float32: NumPy gives inf, like protobuf
            pass
    with np.errstate(over="ignore"):
        return _field(2, _packed(np.asarray(values, "<f4").tobytes()))


def bytes_feature(values) -> bytes:
    """Feature{bytes_list{value: values}}."""
    return _field(1, b"".join(_field(1, v) for v in values))


@functools.lru_cache(maxsize=64)
def _order(keys: tuple[str, ...]) -> tuple[tuple[str, bytes], ...]:
    """(key, encoded key field) in deterministic order. protobuf's Python runtime (upb) sorts map keys
    bytewise but puts a key after any longer key it is a prefix of ("height_bucket" before "height")."""
    ordered = sorted(keys, key=lambda k: (*k.encode(), 256))
    return tuple((k, _field(1, k.encode())) for k in ordered)


def _map(entries: dict[str, bytes]) -> bytes:
    """A protobuf map<string, message> in deterministic order; values are encoded messages."""
    return b"".join(_field(1, head + _field(2, entries[k])) for k, head in _order(tuple(entries)))


def map_entry(key: str, feature: bytes) -> bytes:
    """One entry of Features.feature (key -> an encoded Feature), for writers that join entries themselves."""
    return _field(1, _field(1, key.encode()) + _field(2, feature))


def ordered_keys(keys) -> tuple[str, ...]:
    """The order example() writes these keys in."""
    return tuple(k for k, _ in _order(tuple(keys)))


def example_of_entries(entries: bytes) -> bytes:
    """Example{features} from map entries already joined in ordered_keys() order."""
    return _field(1, entries)


def example(features: dict[str, bytes]) -> bytes:
    """Example{features{feature: features}}; features maps names to encoded Features."""
    return _field(1, _map(features))


def float_rows(rows: np.ndarray) -> bytes:
    """FeatureList{feature: one float_list Feature per row of a 2-D array}, built in one NumPy pass."""
    steps, width = rows.shape
    head = b"\x0a" + varint(width * 4)  # FloatList.value, packed
    head = b"\x12" + varint(len(head) + width * 4) + head  # Feature.float_list
    head = b"\x0a" + varint(len(head) + width * 4) + head  # FeatureList.feature
    out = np.empty((steps, len(head) + width * 4), np.uint8)
    out[:, :len(head)] = np.frombuffer(head, np.uint8)
    out[:, len(head):] = np.ascontiguousarray(rows, "<f4").view(np.uint8).reshape(steps, width * 4)
    return out.tobytes()


def sequence_example(context: dict[str, bytes], feature_lists: dict[str, bytes]) -> bytes:
    """SequenceExample{context, feature_lists}; feature_lists maps names to encoded FeatureLists
    (e.g. from float_rows)."""
    return _field(1, _map(context)) + _field(2, _map(feature_lists))
