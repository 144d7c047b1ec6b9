"""Transform executor: tensorflow-transform over TFXIO on the raw SequenceExamples.

Analyzers are fitted on the train split only; train and eval are materialized as tf.Examples for the
trainer; the transform graph and the raw schema are saved for export and serving.
"""
from __future__ import annotations

import apache_beam as beam
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io

from components.transform.preprocessing import preprocessing_fn
from contract.record_batch import to_examples
from contract.records import IMAGE_ID, LABEL, PIXELS_XF, TRAINING_SPLITS, raw_schema, raw_tfxio
from contract.shards import WriteShards
from pipeline.artifacts import join


def keyed_examples(pair):
    """(RecordBatch, passthrough) -> (image_id, serialized tf.Example with pixels_xf and label) per row.

    Encoded straight to the wire format, the whole batch at once (contract/record_batch.py): the bytes
    protobuf's SerializeToString(deterministic=True) gives, without building a proto of 784 floats per row.
    tfx_bsl's RecordBatchToExamplesEncoder is 2.5x faster (git show 8d751b9:bench/encoders.py: 3.4 against 8.6 µs per
    example) but writes the two features in a varying order: the same batch encoded twice gave different
    bytes for 38% of the examples, which would break byte-identical shards across runs and runners.
    """
    batch = pair[0]
    ids = batch.column(IMAGE_ID).flatten().to_pylist()
    labels = batch.column(LABEL).flatten().to_numpy()
    pixels = batch.column(PIXELS_XF).flatten().to_numpy().reshape(len(ids), -1)
    for image_id, record in zip(ids, to_examples(pixels, labels, PIXELS_XF, LABEL)):
        yield image_id.decode(), record


@beam.ptransform_fn
def EncodeAndWrite(batches, prefix: str, num_shards: int, temp_dir: str):
    """(RecordBatch, passthrough) pairs -> tf.Examples in stable shards (sorted by image id) under prefix."""
    return (batches
            | "EncodeExamples" >> beam.FlatMap(keyed_examples)
            | "WriteExamples" >> WriteShards(prefix, num_shards, temp_dir))


def run(ctx, inputs, outputs) -> dict:
    examples, graph_dir, xf_dir = inputs["examples"], outputs["transform_graph"], outputs["transformed_examples"]
    p = ctx.beam_pipeline("transform")
    with tft_beam.Context(temp_dir=join(ctx.temp_dir, "tft")):
        # The train split is read twice, once to analyze and once to transform (as TFX does): one
        # read feeding both made the in-process runner hold every decoded train record until the
        # analysis finished (1.68 GB peak against 0.93 GB).
        train = raw_tfxio(examples, "train")
        transform_fn = ((p | "ReadTrainForAnalysis" >> train.BeamSource(), train.TensorAdapterConfig())
                        | "AnalyzeTrain" >> tft_beam.AnalyzeDataset(preprocessing_fn))
        _ = transform_fn | "WriteTransformFn" >> tft_beam.WriteTransformFn(graph_dir)
        for split in TRAINING_SPLITS:
            source, name = raw_tfxio(examples, split), split.capitalize()
            xf, _ = (((p | f"Read{name}" >> source.BeamSource(), source.TensorAdapterConfig()), transform_fn)
                     | f"Transform{name}" >> tft_beam.TransformDataset(output_record_batches=True))
            _ = xf | f"Write{name}" >> EncodeAndWrite(join(xf_dir, f"Split-{split}", "data"),
                                                      ctx.params.num_shards, ctx.temp_dir)
        ctx.run_beam(p)
    if ctx.dry_run:
        return {"dry_run": True}
    ctx.fault_point("mid")  # tests kill the process here: Beam has written, nothing is published
    # WriteTransformFn does not record the raw schema; serving and TFTransformOutput need it.
    metadata_io.write_metadata(dataset_metadata.DatasetMetadata(raw_schema()), join(graph_dir, "metadata"))
    return {}
