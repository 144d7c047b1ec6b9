"""Transform executor: tensorflow-transform over TFXIO on the raw SequenceExamples.

Analyzers are fitted on the train split only; train and eval are materialized as tf.Examples for the
trainer; the transform graph and the raw schema are saved for export and serving.
"""
from __future__ import annotations

import apache_beam as beam
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io
from tfx_bsl.public import tfxio

from components.ingest.records import IMAGE_ID, LABEL, raw_schema
from components.ingest.transforms import WriteShards
from components.transform.preprocessing import PIXELS_XF, make_preprocessing_fn
from pipeline.artifacts import join

TELEMETRY = ["mnist-lstm-pipeline"]


def raw_tfxio(examples_dir: str, split: str, **kwargs):
    """A TFXIO source over one split of raw SequenceExamples (also used by the evaluator)."""
    return tfxio.TFSequenceExampleRecord(join(examples_dir, f"Split-{split}", "*"), schema=raw_schema(),
                                         telemetry_descriptors=TELEMETRY, **kwargs)


def keyed_examples(pair):
    """(RecordBatch, passthrough) -> (image_id, serialized tf.Example with pixels_xf and label) per row.

    Serialized here with deterministic=True (sorted feature map) so that equal values give equal bytes.
    """
    import tensorflow as tf

    batch = pair[0]
    ids = batch.column(IMAGE_ID).flatten().to_pylist()
    labels = batch.column(LABEL).flatten().to_numpy()
    pixels = batch.column(PIXELS_XF).flatten().to_numpy().reshape(len(ids), -1)
    for image_id, label, row in zip(ids, labels, pixels):
        ex = tf.train.Example()
        ex.features.feature[PIXELS_XF].float_list.value.extend(row.tolist())
        ex.features.feature[LABEL].int64_list.value.append(int(label))
        yield image_id.decode(), ex.SerializeToString(deterministic=True)


@beam.ptransform_fn
def EncodeAndWrite(batches, prefix: str, num_shards: int):
    """(RecordBatch, passthrough) pairs -> tf.Examples in stable shards (sorted by image id) under prefix."""
    return (batches
            | "EncodeExamples" >> beam.FlatMap(keyed_examples)
            | "WriteExamples" >> WriteShards(prefix, num_shards))


def run(ctx, inputs, outputs) -> dict:
    examples, graph_dir, xf_dir = inputs["examples"], outputs["transform_graph"], outputs["transformed_examples"]
    preprocessing_fn = make_preprocessing_fn()
    p = ctx.beam_pipeline("transform")
    with tft_beam.Context(temp_dir=join(ctx.temp_dir, "tft")):
        train = raw_tfxio(examples, "train")
        raw_train = p | "ReadTrain" >> train.BeamSource()
        (xf_train, _), transform_fn = (
            (raw_train, train.TensorAdapterConfig())
            | "AnalyzeAndTransformTrain" >> tft_beam.AnalyzeAndTransformDataset(
                preprocessing_fn, output_record_batches=True))
        _ = transform_fn | "WriteTransformFn" >> tft_beam.WriteTransformFn(graph_dir)
        shards = ctx.config.ingest.num_shards
        _ = xf_train | "WriteTrain" >> EncodeAndWrite(join(xf_dir, "Split-train", "data"), shards)

        evals = raw_tfxio(examples, "eval")
        raw_eval = p | "ReadEval" >> evals.BeamSource()
        xf_eval, _ = (((raw_eval, evals.TensorAdapterConfig()), transform_fn)
                      | "TransformEval" >> tft_beam.TransformDataset(output_record_batches=True))
        _ = xf_eval | "WriteEval" >> EncodeAndWrite(join(xf_dir, "Split-eval", "data"), shards)
        ctx.run_beam(p)
    if ctx.dry_run:
        return {"dry_run": True}
    ctx.fault_point("mid")  # tests kill the process here: Beam has written, nothing is published
    # WriteTransformFn does not record the raw schema; serving and TFTransformOutput need it.
    metadata_io.write_metadata(dataset_metadata.DatasetMetadata(raw_schema()), join(graph_dir, "metadata"))
    return {}
