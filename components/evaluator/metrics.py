"""TFMA metrics of our own, computed in Beam like TFMA's, and stored in TFMA's results format.

- `ArgmaxConfusionMatrixPlot`: TFMA's `MultiClassConfusionMatrixPlot` (same name, same plot proto), fed by
  `label_prediction_weight`, a direct read of our model's label and probabilities. TFMA's general
  extraction, which handles every model type, was 15% of the evaluator's samples in a py-spy profile.
- `ArgmaxAccuracy`: accuracy (argmax prediction == label) derived from that confusion matrix. Keras'
  SparseCategoricalAccuracy, wrapped by TFMA, ran TensorFlow ops per example and per slice: the
  largest share of the evaluator's Beam time in an earlier profile (`git show 8d751b9:docs/performance.md`, "Profiles: where the time goes").
- `ArgmaxExampleCount`: the slice's example count, from the same confusion matrix.

The gallery's errors and the serving check's canaries are picked per batch instead (picks.py).
All are named in the EvalConfig with `module: components.evaluator.metrics`, so Beam workers import
them from our wheel.
"""
from __future__ import annotations

import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.metrics import multi_class_confusion_matrix_metrics as mcm
from tensorflow_model_analysis.metrics.multi_class_confusion_matrix_plot import (
    MULTI_CLASS_CONFUSION_MATRIX_PLOT_NAME as PLOT_NAME,
)

from components.evaluator.config import ACCURACY as ACCURACY_NAME
from components.evaluator.config import COUNT as COUNT_NAME
from components.evaluator.config import PREDICTION_KEY

_ONE = np.array(1.0)


def direct_pair(element, model_name: str = ""):
    """(label, probabilities) of one example of our single-output model, or None when the inputs
    have any other layout (then TFMA's general extraction applies)."""
    label, prediction = element.labels, element.predictions
    if isinstance(label, dict):
        label = label.get(model_name)
    if isinstance(prediction, dict) and model_name in prediction:
        prediction = prediction[model_name]
    if isinstance(prediction, dict):
        prediction = prediction.get(PREDICTION_KEY)
    if isinstance(label, np.ndarray) and isinstance(prediction, np.ndarray) and prediction.ndim == 1:
        return label, prediction
    return None


def label_prediction_weight(element, eval_config=None, model_name="", output_name="", example_weighted=False,
                            **kwargs):
    """TFMA's metric_util.to_label_prediction_example_weight, read directly in the unweighted,
    single-output case that our evaluator has."""
    pair = None if (example_weighted or output_name or kwargs.get("sub_key")) else direct_pair(element, model_name)
    if pair is None:
        yield from metric_util.to_label_prediction_example_weight(
            element, eval_config=eval_config, model_name=model_name, output_name=output_name,
            example_weighted=example_weighted, **kwargs)
        return
    yield pair[0], pair[1], _ONE


def _matrices(eval_config, model_name, output_name, example_weighted):
    # One computation (one key) shared by the plot and the accuracy: TFMA runs it once for both.
    return mcm.multi_class_confusion_matrices(
        thresholds=[0.0], extract_label_prediction_and_weight=label_prediction_weight, eval_config=eval_config,
        model_name=model_name, output_name=output_name, example_weighted=example_weighted)


def _from_matrices(key, value, eval_config, model_name, output_name, example_weighted):
    """The shared confusion-matrix computation, then {key: value(matrices)} derived from it."""
    matrices = _matrices(eval_config, model_name, output_name, example_weighted)
    matrices_key = matrices[-1].keys[-1]

    def result(metrics):
        return {key: value(metrics[matrices_key])}

    return matrices + [metric_types.DerivedMetricComputation(keys=[key], result=result)]


def _plot(name=PLOT_NAME, eval_config=None, model_name="", output_name="", example_weighted=False):
    key = metric_types.PlotKey(name=name, model_name=model_name, output_name=output_name,
                               example_weighted=example_weighted)
    return _from_matrices(key, lambda m: m.to_proto().multi_class_confusion_matrix_at_thresholds,
                          eval_config, model_name, output_name, example_weighted)


class ArgmaxConfusionMatrixPlot(metric_types.Metric):
    """TFMA's multi-class confusion matrix plot at threshold 0 (every example at its argmax class)."""

    def __init__(self, name: str = PLOT_NAME):
        super().__init__(metric_util.merge_per_key_computations(_plot), name=name)


def _argmax_accuracy(matrices) -> float:
    cells = matrices[0.0]  # threshold 0: every example counts at its argmax class
    total = sum(cells.values())
    right = sum(n for k, n in cells.items() if k.actual_class_id == k.predicted_class_id)
    return right / total if total else float("nan")


def _accuracy(name=ACCURACY_NAME, eval_config=None, model_name="", output_name="", example_weighted=False):
    key = metric_types.MetricKey(name=name, model_name=model_name, output_name=output_name,
                                 example_weighted=example_weighted)
    return _from_matrices(key, _argmax_accuracy, eval_config, model_name, output_name, example_weighted)


class ArgmaxAccuracy(metric_types.Metric):
    """Share of examples whose highest-probability class is the label."""

    def __init__(self, name: str = ACCURACY_NAME):
        super().__init__(metric_util.merge_per_key_computations(_accuracy), name=name)


def _argmax_count(matrices) -> float:
    return float(sum(matrices[0.0].values()))  # at threshold 0 each example sits in exactly one cell


def _count(name=COUNT_NAME, eval_config=None, model_name="", output_name="", example_weighted=False):
    key = metric_types.MetricKey(name=name, model_name=model_name, output_name=output_name,
                                 example_weighted=example_weighted)
    return _from_matrices(key, _argmax_count, eval_config, model_name, output_name, example_weighted)


class ArgmaxExampleCount(metric_types.Metric):
    """Examples in the slice, read off the confusion matrix (TFMA's ExampleCount is a second per-example,
    per-slice pass that cost about 3% of the evaluator's samples)."""

    def __init__(self, name: str = COUNT_NAME):
        super().__init__(metric_util.merge_per_key_computations(_count), name=name)
