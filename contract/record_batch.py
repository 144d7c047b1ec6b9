"""Many raw records at once: the bytes of `records.to_sequence_example` for a whole chunk, built with NumPy.

Every raw record of a chunk has the same layout when its labels and buckets are below 128 (one-byte
varints) and its image ids have one length: the context map and the 28 pixel rows sit at the same offsets
in every record, only the values differ. So the layout is worked out once per chunk (by encoding records
that differ in one value each and seeing which bytes change), a [N, record length] byte
array is filled column by column, and each row is one record: about 20x cheaper than encoding record by
record. Records that do not fit the shared layout are encoded one at a time; `tests/test_record_batch.py`
checks that the bytes are identical to `to_sequence_example` (and so to protobuf's own serializer).

    python -c "import numpy as np; from contract.record_batch import to_sequence_examples; \
print(len(to_sequence_examples(np.zeros((2, 28, 28), np.uint8), [1, 2], ['a/0', 'a/1'], {}, None)[0]))"
"""
from __future__ import annotations

import numpy as np

from contract import wire
from contract.features import properties
from contract.records import (
    IMAGE_ID,
    LABEL,
    SLICE_PROPERTIES,
    STEPS,
    WIDTH,
    to_sequence_example,
)

_TINY = float(np.frombuffer(b"\x01" * 4, "<f4")[0])   # a float32 whose four bytes are all non-zero


def buckets(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """bucket_of for a whole column: the number of edges at or below each value."""
    return np.searchsorted(np.asarray(edges, np.float64), values.astype(np.float64), side="right")


def _where(template: bytes, changed: bytes) -> int:
    """Where a value sits in a layout: the first byte that differs between two records that differ
    only in that value (of the same encoded length)."""
    a, b = np.frombuffer(template, np.uint8), np.frombuffer(changed, np.uint8)
    if len(a) != len(b):
        raise AssertionError("the two records must share one layout")
    return int(np.flatnonzero(a != b)[0])


def _layout(id_len: int) -> tuple[bytes, dict[str, int]]:
    """(template record with zero values, {context feature: offset of its value bytes}), found by
    encoding records that differ in one value each; the pixel rows are the record's last STEPS * _ROW bytes."""
    image, zero = np.zeros((STEPS, WIDTH), np.uint8), {p: 0.0 for p in SLICE_PROPERTIES}
    encode = lambda label=0, image_id="0" * id_len, edges=None, props=zero: to_sequence_example(  # noqa: E731
        image, label, image_id, edges, props)
    template = encode()
    offsets = {LABEL: _where(template, encode(label=1)), IMAGE_ID: _where(template, encode(image_id="1" * id_len))}
    for p in SLICE_PROPERTIES:
        offsets[p] = _where(template, encode(props={**zero, p: _TINY}))
        offsets[f"{p}_bucket"] = _where(template, encode(edges={p: [-1.0]}))   # 0.0 is in bucket 1
    return template, offsets


_ROW_HEAD = len(wire.float_rows(np.zeros((1, WIDTH), np.float32))) - WIDTH * 4
_ROW = _ROW_HEAD + WIDTH * 4   # one pixel row in the record: its Feature head, then 28 float32 values


def to_sequence_examples(images: np.ndarray, labels, image_ids: list[str], edges: dict | None,
                         props: dict | None) -> list[bytes]:
    """[N, 28, 28] uint8 images -> N serialized raw records, equal to to_sequence_example(...) of each.

    props: {property: float32[N]} if already computed (else computed here); edges as for
    to_sequence_example (None: every bucket 0).
    """
    n = len(images)
    if n == 0:
        return []
    props = props if props is not None else properties(images)
    labels = np.asarray(labels, np.int64)
    ints = {LABEL: labels, **{f"{p}_bucket": buckets(props[p], (edges or {}).get(p, [])) for p in SLICE_PROPERTIES}}
    ids = [i.encode() for i in image_ids]
    id_len = len(ids[0])
    fits = np.array([len(i) == id_len for i in ids])
    for column in ints.values():
        fits &= (column >= 0) & (column < 128)   # one-byte varints
    template, offsets = _layout(id_len)
    out = np.empty((n, len(template)), np.uint8)
    out[:] = np.frombuffer(template, np.uint8)
    for name, column in ints.items():
        out[:, offsets[name]] = column.astype(np.uint8)
    for name in SLICE_PROPERTIES:
        out[:, offsets[name]:offsets[name] + 4] = np.asarray(props[name], "<f4").view(np.uint8).reshape(n, 4)
    same = b"".join(i if len(i) == id_len else bytes(id_len) for i in ids)
    out[:, offsets[IMAGE_ID]:offsets[IMAGE_ID] + id_len] = np.frombuffer(same, np.uint8).reshape(n, id_len)
    rows = out[:, len(template) - STEPS * _ROW:].reshape(n, STEPS, _ROW)
    rows[:, :, _ROW_HEAD:] = images.astype("<f4").view(np.uint8).reshape(n, STEPS, WIDTH * 4)
    records = [r.tobytes() for r in out]
    for i in np.flatnonzero(~fits):   # a long varint or another id length: one at a time
        records[i] = to_sequence_example(images[i], int(labels[i]), image_ids[i], edges,
                                         {p: float(props[p][i]) for p in SLICE_PROPERTIES})
    return records


def to_examples(values: np.ndarray, labels, value_name: str, label_name: str) -> list[bytes]:
    """Rows of a [N, K] float array and N labels -> N tf.Examples {value_name: float_list, label_name:
    int64_list}, equal to wire.example() of each (the transformed records the trainer reads)."""
    n, k = values.shape
    labels = np.asarray(labels, np.int64)
    encode = lambda row, label: wire.example({value_name: wire.float_feature(row),   # noqa: E731
                                              label_name: wire.int64_feature((int(label),))})
    if n == 0:
        return []
    zeros = np.zeros(k, np.float32)
    template = encode(zeros, 0)
    label_at = _where(template, encode(zeros, 1))
    floats_at = _where(template, encode(np.full(k, _TINY, np.float32), 0))
    out = np.empty((n, len(template)), np.uint8)
    out[:] = np.frombuffer(template, np.uint8)
    out[:, label_at] = labels.astype(np.uint8)
    out[:, floats_at:floats_at + 4 * k] = np.ascontiguousarray(values, "<f4").view(np.uint8).reshape(n, 4 * k)
    records = [r.tobytes() for r in out]
    for i in np.flatnonzero((labels < 0) | (labels >= 128)):   # a longer varint: one at a time
        records[i] = encode(values[i], labels[i])
    return records
