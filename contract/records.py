"""The raw record contract: one image = one `tf.train.SequenceExample`.

- sequence feature `pixels`: exactly 28 steps (image rows), each a float list of 28 raw
  intensities in 0..255 (the columns of that row);
- context `label` (int64, 0..9), `image_id` (bytes, stable across runs, e.g. b"mnist/train/00042");
- context slice features (contract/features.py): `ink`, `thickness`, `width`, `height`,
  `slant` (float) and `<name>_bucket` (int64, quantile bucket on the train split's edges).

Only `pixels` is needed to serve; the rest is for training, evaluation and slicing.

    python -c "from contract.records import raw_schema; print(raw_schema())"
"""
from __future__ import annotations

import hashlib

import numpy as np

from contract import wire
from contract.features import bucket_of, properties

STEPS = 28
WIDTH = 28
SPLITS = ("train", "eval", "test")     # ingest writes Split-<name>/ for each (test: from the test file)
TRAINING_SPLITS = ("train", "eval")    # what transform materializes for the trainer
PIXELS = "pixels"
LABEL = "label"
IMAGE_ID = "image_id"
INK = "ink"
SEQUENCE_COLUMN = "##SEQUENCE##"  # tfx_bsl's name for the struct holding sequence features
SLICE_PROPERTIES = ("ink", "thickness", "width", "height", "slant")
BUCKETS = tuple(f"{p}_bucket" for p in SLICE_PROPERTIES)
PIXELS_XF = "pixels_xf"                # the transformed feature: [B, 784] floats in 0..1, row-major 28x28
SERVING_SIGNATURE = "serving_default"  # the model's signature: serialized raw records in ...
SERVING_INPUT = "examples"             # ... under this name (string[None]); out: probabilities, classes
TELEMETRY = ["mnist-lstm-pipeline"]
CONTEXT_FEATURES = {LABEL: "INT", IMAGE_ID: "BYTES", **{p: "FLOAT" for p in SLICE_PROPERTIES},
                    **{b: "INT" for b in BUCKETS}}


def _context_schema() -> str:
    features, reps = [], []
    for name, kind in CONTEXT_FEATURES.items():
        features.append(f'feature {{ name: "{name}" type: {kind} value_count {{ min: 1 max: 1 }} '
                        f'presence {{ min_fraction: 1 }} }}')
        reps.append(f'tensor_representation {{ key: "{name}" value {{ dense_tensor {{ column_name: "{name}" '
                    f'shape {{ }} }} }} }}')
    return "\n".join(features), "\n    ".join(reps)


_FEATURES, _REPRESENTATIONS = _context_schema()

_SCHEMA_TEXT = f"""
{_FEATURES}
feature {{
  name: "{SEQUENCE_COLUMN}" type: STRUCT
  struct_domain {{
    feature {{ name: "{PIXELS}" type: FLOAT value_count {{ min: {WIDTH} max: {WIDTH} }} }}
  }}
}}
tensor_representation_group {{
  key: ""
  value {{
    {_REPRESENTATIONS}
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


def stable_fraction(key: str, seed: int) -> float:
    """A number in [0, 1) fixed by (seed, key) on every machine: md5, never Python's salted hash().
    It decides each record's split (ingest) and shard (contract/shards.py)."""
    digest = hashlib.md5(f"{seed}/{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def canary_rank(image_id: str) -> int:
    """Canaries are the records of the evaluated split with the lowest ranks: the evaluator records its
    predictions for them and the serving check serves the same records, each on its own."""
    return int.from_bytes(hashlib.md5(image_id.encode()).digest()[:8], "big")


def evaluated_split(examples_dir: str, wanted: str) -> str:
    """The split the evaluator reads (and the serving check takes its canaries from): `wanted`, or 'eval'
    where the dataset has no such split."""
    import tensorflow as tf
    return wanted if tf.io.gfile.glob(split_pattern(examples_dir, wanted)) else "eval"


def split_pattern(examples_dir: str, split: str) -> str:
    """The shard files of one split of an examples artifact (raw or transformed; contract/shards.py names
    them). Not `Split-x/*`: on an object store that also matches the folder's own zero-byte `Split-x/` marker,
    which Beam then reads as the pattern of the whole folder, counting every record twice."""
    return f"{examples_dir.rstrip('/')}/Split-{split}/*.tfrecord"


def raw_tfxio(examples_dir: str, split: str, **kwargs):
    """A TFXIO source over one split of raw SequenceExamples (transform, evaluator)."""
    from tfx_bsl.public import tfxio
    return tfxio.TFSequenceExampleRecord(split_pattern(examples_dir, split), schema=raw_schema(),
                                         telemetry_descriptors=TELEMETRY, **kwargs)


def _context(label: int, image_id: str, edges: dict | None, props: dict | None) -> dict:
    """{name: value} of the context features."""
    ctx = {LABEL: int(label), IMAGE_ID: image_id.encode()}
    for name in SLICE_PROPERTIES:
        ctx[name] = float(props[name])
        ctx[f"{name}_bucket"] = bucket_of(ctx[name], (edges or {}).get(name, []))
    return ctx


_ENCODE = {int: lambda v: wire.int64_feature((v,)), float: lambda v: wire.float_feature((v,)),
           bytes: lambda v: wire.bytes_feature((v,))}


def to_sequence_example(image: np.ndarray, label: int, image_id: str, edges: dict | None = None,
                        props: dict | None = None) -> bytes:
    """Serialize one 28x28 uint8 image as a raw SequenceExample (rows become steps).

    edges: {property: inner bucket edges}; without it every bucket is 0 (tests, ad-hoc records).
    props: the image's properties if already computed (ingest computes them per chunk).
    The bytes equal sequence_example_proto(...).SerializeToString(deterministic=True), built in
    about half the time (32 against 73 µs here).
    """
    if props is None:
        props = _properties_of(image)
    ctx = {k: _ENCODE[type(v)](v) for k, v in _context(label, image_id, edges, props).items()}
    return wire.sequence_example(ctx, {PIXELS: wire.float_rows(image)})


def sequence_example_proto(image: np.ndarray, label: int, image_id: str, edges: dict | None = None,
                           props: dict | None = None):
    """The same record built with the protobuf API: the readable reference for to_sequence_example
    (tests compare the bytes; the ingest benchmark's plain baseline uses it)."""
    import tensorflow as tf

    ex = tf.train.SequenceExample()
    for name, value in _context(label, image_id, edges, props or _properties_of(image)).items():
        kind = {int: "int64_list", float: "float_list", bytes: "bytes_list"}[type(value)]
        getattr(ex.context.feature[name], kind).value.append(value)
    steps = ex.feature_lists.feature_list[PIXELS].feature
    for row in image.astype(np.float32).tolist():  # .tolist() makes proto building ~2x faster
        steps.add().float_list.value.extend(row)
    return ex


def _properties_of(image: np.ndarray) -> dict:
    return {k: float(v[0]) for k, v in properties(image[None]).items()}
