"""Evaluator executor: TFMA on Beam over raw SequenceExamples, slices, baseline comparison, blessing.

The model's serving_default reads the raw bytes (tfma.ARROW_INPUT_COLUMN), exactly as a server would.
The baseline is the last blessed model of this pipeline and dataset (resolved by the runner).
"""
from __future__ import annotations

import functools
import logging

import apache_beam as beam
import tensorflow as tf
import tensorflow_model_analysis as tfma

from components.evaluator import picks, serving
from components.evaluator.config import BASELINE, CANDIDATE, eval_config
from components.evaluator.gallery import misclassified
from components.evaluator.results import read_results
from contract import artifacts as files
from contract.records import evaluated_split, raw_tfxio
from pipeline.artifacts import join, read_file, write_file

log = logging.getLogger(__name__)


def describe_failures(validation) -> list[str]:
    """Readable reasons, e.g. "overall: accuracy 0.8123 below the lower bound 0.9"."""
    reasons = []
    for per_slice in validation.metric_validations_per_slice:
        where = ", ".join(f"{k.column}={k.int64_value or k.bytes_value.decode() or k.float_value}"
                          for k in per_slice.slice_key.single_slice_keys) or "overall"
        for failure in per_slice.failures:
            key, value = failure.metric_key, failure.metric_value.double_value.value
            if failure.metric_threshold.HasField("change_threshold"):
                bound = failure.metric_threshold.change_threshold.absolute.value
                what = f"changed by {value:+.4f} versus the baseline; allowed down to {bound:+.4f}"
            elif failure.HasField("metric_value"):
                what = f"{value:.4f} below the lower bound {failure.metric_threshold.value_threshold.lower_bound.value}"
            else:
                what = failure.message
            reasons.append(f"{where}: {'change in ' if key.is_diff else ''}{key.name} {what}")
    return reasons


def slice_drops(slices: list[dict], max_drop: float, min_size: int) -> list[str]:
    """Slices (other than overall) with enough examples whose accuracy fell more than max_drop."""
    return [f"{s['slice']}: accuracy {s['accuracy']:.4f} is {-s['diff']:.4f} below the baseline's "
            f"{s['baseline_accuracy']:.4f} (allowed {max_drop}; {s['count']} examples)"
            for s in slices if s["slice"] != "overall" and s["diff"] is not None
            and s["count"] >= min_size and s["diff"] < -max_drop]


def pick_split(examples_dir: str, wanted: str) -> tuple[str, str]:
    split = evaluated_split(examples_dir, wanted)
    if split == "eval":   # the trainer chose its epoch on eval (early stopping): this accuracy is optimistic
        why = "as asked (evaluator.split)" if wanted == "eval" else f"the data has no '{wanted}' split"
        return split, f"{why}; it also chose the model (early stopping), so the accuracy is optimistic"
    return split, "not used to choose the model (the trainer chose on eval)"


def _shared_model(path, name, config):
    loader = tfma.types.ModelLoader(construct_fn=functools.partial(serving.load, path),
                                    tags=[tf.saved_model.SERVING])
    return tfma.default_eval_shared_model(eval_saved_model_path=path, model_name=name, eval_config=config,
                                          custom_model_loader=loader, include_default_metrics=False)


def _evaluate(ctx, inputs, out, split, config, baseline):
    models = [_shared_model(inputs["model"], CANDIDATE, config)]
    if baseline:
        models.append(_shared_model(baseline, BASELINE, config))
    source = raw_tfxio(inputs["examples"], split, raw_record_column_name=tfma.ARROW_INPUT_COLUMN)
    p = ctx.beam_pipeline("evaluator")
    total = read_file(files.COUNTS, inputs["examples"]).get(split, 0)
    ctx.progress.expect(total, "examples")
    shared = models if baseline else models[0]
    extractors = picks.with_picks(
        tfma.default_extractors(eval_config=config, eval_shared_model=shared,
                                tensor_adapter_config=source.TensorAdapterConfig()),
        out, ctx.params.canaries, ctx.params.gallery_size, CANDIDATE if baseline else "")
    _ = (p
         | "ReadRawExamples" >> source.BeamSource(batch_size=ctx.params.batch_size)   # one shape: see pipeline.yaml
         | "Progress" >> beam.Map(_progress, ctx.progress)
         | "ExtractEvaluateAndWriteResults" >> tfma.ExtractEvaluateAndWriteResults(
             eval_shared_model=shared, eval_config=config, output_path=out, extractors=extractors,
             tensor_adapter_config=source.TensorAdapterConfig()))
    return ctx.run_beam(p)


def _progress(batch, progress):
    """Record batches pass through, counted on the console (a no-op outside the driver's process)."""
    progress.tick(batch.num_rows)
    return batch


def run(ctx, inputs, outputs) -> dict:
    cfg = ctx.params
    split, note = pick_split(inputs["examples"], cfg.split)
    baseline = inputs.get("baseline_model")
    config = eval_config(cfg, has_baseline=bool(baseline))
    out = outputs["evaluation"]
    _evaluate(ctx, inputs, out, split, config, baseline)
    if ctx.dry_run:
        return {"dry_run": True}
    ctx.fault_point("mid")
    results = read_results(out, len(cfg.class_names))
    validation = tfma.load_validation_result(out)
    reasons = ([] if validation.validation_ok else describe_failures(validation) or ["TFMA validation failed"])
    reasons += slice_drops(results["slices"], cfg.max_slice_drop, cfg.min_slice_size) if baseline else []
    if not baseline and cfg.require_baseline:
        reasons.append("no blessed baseline model exists yet and evaluator.require_baseline is true")
    blessed = not reasons
    picked = picks.read_picks(out)
    gallery = misclassified(inputs["examples"], split, results["slices"], picked["errors"], cfg.gallery_size)
    canaries = picked["canaries"]
    write_file(files.MISCLASSIFIED, out, gallery)
    # what the serving check replays: these examples of `split`, and the class this evaluation predicted
    write_file(files.CANARIES, out, {"split": split, "canaries": canaries})
    verdict = {"blessed": blessed, "reasons": reasons, "split": split, "baseline": baseline}
    tf.io.gfile.makedirs(outputs["blessing"])
    write_file(files.BLESSING, outputs["blessing"], verdict)
    with tf.io.gfile.GFile(join(outputs["blessing"], "BLESSED" if blessed else "NOT_BLESSED"), "w") as f:
        f.write("\n".join(reasons))
    overall = results["overall"]
    log.info("evaluation on %s: accuracy %.4f, blessed=%s %s", split, overall["accuracy"], blessed, reasons)
    facts = {"split": split, "split_note": note, "accuracy": overall["accuracy"], "examples": overall["count"],
             "blessed": blessed, "blessing_reasons": reasons, "baseline_model": baseline}
    # what the report shows lives in the artifact (MISCLASSIFIED holds the gallery); facts stay small
    write_file(files.RESULTS, out, facts | {
        "thresholds": {"min_accuracy": cfg.min_accuracy, "max_drop": cfg.max_drop,
                       "max_slice_drop": cfg.max_slice_drop, "min_slice_size": cfg.min_slice_size},
        **{k: results[k] for k in ("slices", "per_class", "confusion")}})
    return facts
