"""Evaluator executor: TFMA on Beam over raw SequenceExamples, slices, and a blessing.

The model's serving_default reads the raw bytes (tfma.ARROW_INPUT_COLUMN), exactly as a server
would; slice buckets come from the model's transformed_features signature.
"""
from __future__ import annotations

import logging

import tensorflow as tf
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.proto import config_pb2 as tfma_config

from components.evaluator.results import read_results
from components.ingest.records import LABEL
from components.trainer.export import TRANSFORMED
from components.transform.executor import raw_tfxio
from components.transform.preprocessing import INK_BUCKET
from pipeline.artifacts import join, write_json

log = logging.getLogger(__name__)
ACCURACY = "sparse_categorical_accuracy"


def eval_config(min_accuracy: float) -> tfma_config.EvalConfig:
    """Accuracy overall, per label and per ink bucket; the threshold gates the overall slice only."""
    overall = tfma_config.SlicingSpec()
    gate = tfma_config.PerSliceMetricThreshold(
        slicing_specs=[overall],
        threshold=tfma_config.MetricThreshold(
            value_threshold=tfma_config.GenericValueThreshold(lower_bound={"value": min_accuracy})))
    return tfma_config.EvalConfig(
        model_specs=[tfma_config.ModelSpec(signature_name="serving_default", label_key=LABEL,
                                           prediction_key="probabilities",
                                           preprocessing_function_names=[TRANSFORMED])],
        slicing_specs=[overall, tfma_config.SlicingSpec(feature_keys=[LABEL]),
                       tfma_config.SlicingSpec(feature_keys=[INK_BUCKET])],
        metrics_specs=[tfma_config.MetricsSpec(
            metrics=[tfma_config.MetricConfig(class_name="ExampleCount"),
                     # The gate sits on the MetricConfig: TFMA 0.52 keys MetricsSpec.per_slice_thresholds
                     # without example_weighted, so they match no computed metric and every slice
                     # fails with "Metric not found".
                     tfma_config.MetricConfig(class_name="SparseCategoricalAccuracy", per_slice_thresholds=[gate])],
            example_weights=tfma_config.ExampleWeightOptions(unweighted=True))])


def describe_failures(validation) -> list[str]:
    """Readable reasons, e.g. 'overall: sparse_categorical_accuracy 0.8123 below the lower bound 0.9'."""
    reasons = []
    for per_slice in validation.metric_validations_per_slice:
        where = ", ".join(f"{k.column}={k.int64_value or k.bytes_value.decode() or k.float_value}"
                          for k in per_slice.slice_key.single_slice_keys) or "overall"
        for failure in per_slice.failures:
            bound = failure.metric_threshold.value_threshold
            if failure.HasField("metric_value"):
                what = f"{failure.metric_value.double_value.value:.4f} outside [{bound.lower_bound.value}, "\
                       f"{bound.upper_bound.value if bound.HasField('upper_bound') else 'inf'}]"
            else:
                what = failure.message
            reasons.append(f"{where}: {failure.metric_key.name} {what}")
    return reasons


def pick_split(examples_dir: str, wanted: str) -> tuple[str, str]:
    if tf.io.gfile.glob(join(examples_dir, f"Split-{wanted}", "*")):
        return wanted, ""
    return "eval", f"dataset has no '{wanted}' split; evaluated the 'eval' split instead"


def run(ctx, inputs, outputs) -> dict:
    cfg = ctx.config.evaluator
    split, note = pick_split(inputs["examples"], cfg.split)
    config = eval_config(cfg.min_accuracy)
    shared = tfma.default_eval_shared_model(eval_saved_model_path=inputs["model"], eval_config=config)
    source = raw_tfxio(inputs["examples"], split, raw_record_column_name=tfma.ARROW_INPUT_COLUMN)
    out = outputs["evaluation"]
    p = ctx.beam_pipeline("evaluator")
    _ = (p
         | "ReadRawExamples" >> source.BeamSource()
         | "ExtractEvaluateAndWriteResults" >> tfma.ExtractEvaluateAndWriteResults(
             eval_shared_model=shared, eval_config=config, output_path=out,
             tensor_adapter_config=source.TensorAdapterConfig()))
    ctx.run_beam(p)
    if ctx.dry_run:
        return {"dry_run": True}
    ctx.fault_point("mid")
    results = read_results(out)
    validation = tfma.load_validation_result(out)
    blessed = bool(validation.validation_ok)
    reasons = [] if blessed else describe_failures(validation) or ["TFMA validation failed"]
    verdict = {"blessed": blessed, "reasons": reasons, "min_accuracy": cfg.min_accuracy, "split": split}
    tf.io.gfile.makedirs(outputs["blessing"])
    write_json(join(outputs["blessing"], "blessing.json"), verdict)
    with tf.io.gfile.GFile(join(outputs["blessing"], "BLESSED" if blessed else "NOT_BLESSED"), "w") as f:
        f.write("\n".join(reasons))
    log.info("evaluation on %s: accuracy %.4f, blessed=%s", split, results["overall"]["accuracy"], blessed)
    return {"split": split, "split_note": note, "accuracy": results["overall"]["accuracy"],
            "examples": results["overall"]["count"], "blessed": blessed, "blessing_reasons": reasons,
            "min_accuracy": cfg.min_accuracy, "slices": results["slices"]}
