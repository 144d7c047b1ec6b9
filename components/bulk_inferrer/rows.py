"""Prediction rows as bulk inference writes them, a batch at a time: CSV lines, serialized Examples, and
the TFRecord frames around them.

    python -m pytest tests/test_predict.py -k rows
"""
from __future__ import annotations

import numpy as np
from apache_beam import coders
from apache_beam.io.filebasedsink import FileBasedSink
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.tfrecordio import _TFRecordUtil  # Beam's framing of a TFRecord, CRCs included

from contract import wire


def csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def csv_block(ids, classes, names, probs) -> str:
    """One CSV line per row (id, class, class name, probabilities), joined: one element per batch."""
    cells = [",".join(f"{p:.6f}" for p in row) for row in probs.tolist()]
    return "\n".join(f"{csv_field(i)},{k},{csv_field(names[k])},{c}" for i, k, c in zip(ids, classes, cells))


def prediction_examples(ids, classes, names, probs) -> list[bytes]:
    """One serialized Example per row (id, class, class_name, probabilities), as wire.example writes it.

    Only the id and the probabilities differ from row to row: the class entries are encoded once per class,
    and the probabilities' entry is a fixed head before each row's float32 bytes (a row is always as long as
    the classes). 35 -> 6 µs per row against wire.example per row (bench/predict.py's 10,000 records).
    """
    probs = np.ascontiguousarray(probs, "<f4")
    width = probs.shape[1] * 4
    head = wire.map_entry("probabilities", wire.float_feature(np.zeros(probs.shape[1], "<f4")))[:-width]
    fixed = {k: {"class": wire.map_entry("class", wire.int64_feature((k,))),
                 "class_name": wire.map_entry("class_name", wire.bytes_feature((names[k].encode(),)))}
             for k in set(classes)}
    order = wire.ordered_keys(("id", "class", "class_name", "probabilities"))
    blob = probs.tobytes()
    out = []
    for r, (image_id, k) in enumerate(zip(ids, classes)):
        entries = {"id": wire.map_entry("id", wire.bytes_feature((image_id.encode(),))),
                   "probabilities": head + blob[r * width:(r + 1) * width], **fixed[k]}
        out.append(wire.example_of_entries(b"".join(entries[key] for key in order)))
    return out


def framed(records: list[bytes]) -> bytes:
    """TFRecord frames (length, its CRC, data, its CRC) of every record, as one block of bytes."""
    import io
    out = io.BytesIO()
    for record in records:
        _TFRecordUtil.write_record(out, record)
    return out.getvalue()


class FramedRecordsSink(FileBasedSink):
    """A TFRecord file sink whose elements are blocks of frames (framed()): one write per batch, where
    Beam's WriteToTFRecord frames and writes each record as its own element."""

    def __init__(self, prefix: str):
        super().__init__(prefix, coder=coders.BytesCoder(), file_name_suffix=".tfrecord", mime_type="application/octet-stream",
                         compression_type=CompressionTypes.UNCOMPRESSED)

    def write_encoded_record(self, file_handle, value: bytes) -> None:
        file_handle.write(value)
