"""Transform executor: tensorflow-transform over TFXIO on the raw SequenceExamples.

Analyzers are fitted on the train split only; train and eval are materialized as tf.Examples for the
trainer; the transform graph and the raw schema are saved for export and serving.
"""
from __future__ import annotations

import apache_beam as beam
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io
from tfx_bsl.coders import example_coder
from tfx_bsl.public import tfxio

from components.ingest.records import raw_schema
from components.transform.preprocessing import make_preprocessing_fn
from pipeline.artifacts import join

TELEMETRY = ["mnist-lstm-pipeline"]


def raw_tfxio(examples_dir: str, split: str, **kwargs):
    """A TFXIO source over one split of raw SequenceExamples (also used by the evaluator)."""
    return tfxio.TFSequenceExampleRecord(join(examples_dir, f"Split-{split}", "*"), schema=raw_schema(),
                                         telemetry_descriptors=TELEMETRY, **kwargs)


@beam.ptransform_fn
def EncodeAndWrite(batches, prefix: str):
    """(RecordBatch, passthrough) pairs -> serialized tf.Examples -> TFRecord files under prefix."""
    encoder = example_coder.RecordBatchToExamplesEncoder()
    return (batches
            | "EncodeExamples" >> beam.FlatMap(lambda pair: encoder.encode(pair[0]))
            | "WriteExamples" >> beam.io.WriteToTFRecord(prefix, file_name_suffix=".tfrecord"))


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
        _ = xf_train | "WriteTrain" >> EncodeAndWrite(join(xf_dir, "Split-train", "data"))

        evals = raw_tfxio(examples, "eval")
        raw_eval = p | "ReadEval" >> evals.BeamSource()
        xf_eval, _ = (((raw_eval, evals.TensorAdapterConfig()), transform_fn)
                      | "TransformEval" >> tft_beam.TransformDataset(output_record_batches=True))
        _ = xf_eval | "WriteEval" >> EncodeAndWrite(join(xf_dir, "Split-eval", "data"))
        ctx.run_beam(p)
    if ctx.dry_run:
        return {"dry_run": True}
    ctx.fault_point("mid")  # tests kill the process here: Beam has written, nothing is published
    # WriteTransformFn does not record the raw schema; serving and TFTransformOutput need it.
    metadata_io.write_metadata(dataset_metadata.DatasetMetadata(raw_schema()), join(graph_dir, "metadata"))
    return {}
