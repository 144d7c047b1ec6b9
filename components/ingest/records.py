"""The raw record contract: one image = one `tf.train.SequenceExample`.

- sequence feature `pixels`: exactly 28 steps (image rows), each a float list of 28 raw
  intensities in 0..255 (the columns of that row);
- context `label` (int64, 0..9), `image_id` (bytes, stable across runs, e.g. b"mnist/train/00042"),
  `ink` (float, mean intensity / 255: a slice feature).

Only `pixels` is needed to serve; the rest is for training, evaluation and slicing.

    python -c "from components.ingest.records import raw_schema; print(raw_schema())"
"""
from __future__ import annotations

import numpy as np

STEPS = 28
WIDTH = 28
PIXELS = "pixels"
LABEL = "label"
IMAGE_ID = "image_id"
INK = "ink"
SEQUENCE_COLUMN = "##SEQUENCE##"  # tfx_bsl's name for the struct holding sequence features
CONTEXT_FEATURES = {LABEL: "INT", IMAGE_ID: "BYTES", INK: "FLOAT"}

_SCHEMA_TEXT = f"""
feature {{ name: "{LABEL}" type: INT value_count {{ min: 1 max: 1 }} presence {{ min_fraction: 1 }} }}
feature {{ name: "{IMAGE_ID}" type: BYTES value_count {{ min: 1 max: 1 }} presence {{ min_fraction: 1 }} }}
feature {{ name: "{INK}" type: FLOAT value_count {{ min: 1 max: 1 }} presence {{ min_fraction: 1 }} }}
feature {{
  name: "{SEQUENCE_COLUMN}" type: STRUCT
  struct_domain {{
    feature {{ name: "{PIXELS}" type: FLOAT value_count {{ min: {WIDTH} max: {WIDTH} }} }}
  }}
}}
tensor_representation_group {{
  key: ""
  value {{
    tensor_representation {{ key: "{LABEL}" value {{ dense_tensor {{ column_name: "{LABEL}" shape {{ }} }} }} }}
    tensor_representation {{ key: "{IMAGE_ID}" value {{ dense_tensor {{ column_name: "{IMAGE_ID}" shape {{ }} }} }} }}
    tensor_representation {{ key: "{INK}" value {{ dense_tensor {{ column_name: "{INK}" shape {{ }} }} }} }}
    tensor_representation {{ key: "{PIXELS}" value {{ ragged_tensor {{
        feature_path {{ step: "{SEQUENCE_COLUMN}" step: "{PIXELS}" }} }} }} }}
  }}
}}
"""


def raw_schema():
    """The tensorflow-metadata Schema of raw records (what TFXIO and serving parse)."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    return text_format.Parse(_SCHEMA_TEXT, schema_pb2.Schema())


def ink_of(image: np.ndarray) -> float:
    """Mean intensity in 0..1: how much of the frame the stroke covers."""
    return float(image.mean() / 255.0)


def to_sequence_example(image: np.ndarray, label: int, image_id: str) -> bytes:
    """Serialize one 28x28 uint8 image as a raw SequenceExample (rows become steps)."""
    import tensorflow as tf

    rows = image.astype(np.float32).tolist()  # .tolist() makes proto building ~2x faster
    ex = tf.train.SequenceExample()
    ctx = ex.context.feature
    ctx[LABEL].int64_list.value.append(int(label))
    ctx[IMAGE_ID].bytes_list.value.append(image_id.encode())
    ctx[INK].float_list.value.append(ink_of(image))
    steps = ex.feature_lists.feature_list[PIXELS].feature
    for row in rows:
        steps.add().float_list.value.extend(row)
    # deterministic=True sorts the context map: otherwise its byte order can differ between processes
    return ex.SerializeToString(deterministic=True)
