"""TFMA metrics of our own, computed in Beam like TFMA's, and stored in TFMA's results format.

- `ArgmaxConfusionMatrixPlot`: TFMA's `MultiClassConfusionMatrixPlot` (same name, same plot proto), fed by
  `label_prediction_weight`, a direct read of our model's label and probabilities. TFMA's general
  extraction, which handles every model type, was 15% of the evaluator's samples in a py-spy profile.
- `ArgmaxAccuracy`: accuracy (argmax prediction == label) derived from that confusion matrix. Keras'
  SparseCategoricalAccuracy, wrapped by TFMA, ran TensorFlow ops per example and per slice: the
  largest share of the evaluator's Beam time in an earlier profile (README "Profiles").
- `ConfidentErrors`: per slice, the `size` most confident wrong predictions as 'image_id|label|
  predicted|confidence' strings. The report's gallery used to run the model a second time over the
  split to find them.

Both are named in the EvalConfig with `module: components.evaluator.metrics`, so Beam workers import
them from our wheel.
"""
from __future__ import annotations

import heapq

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.metrics import multi_class_confusion_matrix_metrics as mcm
from tensorflow_model_analysis.metrics.multi_class_confusion_matrix_plot import (
    MULTI_CLASS_CONFUSION_MATRIX_PLOT_NAME as PLOT_NAME,
)

from contract.records import canary_rank

PREDICTION_KEY = "probabilities"  # the serving signature's output the ModelSpec names
ACCURACY_NAME = "accuracy"
ERRORS_NAME = "confident_errors"
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


def _per_example(combiner_class, key_name: str, size, feature, eval_config, model_name, output_name,
                 example_weighted):
    """One computation over each example's id feature, label and prediction, combined by combiner_class."""
    key = metric_types.MetricKey(name=key_name, model_name=model_name, output_name=output_name,
                                 example_weighted=example_weighted)
    preprocessor = metric_types.StandardMetricInputsPreprocessor(
        include_filter={"features": {feature: {}}}, include_default_inputs=True)
    combiner = combiner_class(key, size, feature, eval_config, model_name, output_name)
    return [metric_types.MetricComputation(keys=[key], preprocessors=[preprocessor], combiner=combiner)]


def _errors(size, feature, name=ERRORS_NAME, eval_config=None, model_name="", output_name="",
            example_weighted=False):
    return _per_example(_ConfidentErrorsCombineFn, name, size, feature, eval_config, model_name, output_name,
                        example_weighted)


class ConfidentErrors(metric_types.Metric):
    """The `size` wrong predictions with the highest predicted probability, per slice."""

    def __init__(self, size: int = 40, feature: str = "image_id", name: str = ERRORS_NAME):
        super().__init__(metric_util.merge_per_key_computations(_errors), size=size, feature=feature,
                         name=name)


class _ConfidentErrorsCombineFn(beam.CombineFn):
    """A bounded min-heap of (confidence, image_id, label, predicted): deterministic ties by id."""

    def __init__(self, key, size, feature, eval_config, model_name, output_name):
        self._key, self._size, self._feature = key, size, feature
        self._eval_config, self._model_name, self._output_name = eval_config, model_name, output_name

    def create_accumulator(self):
        return []

    def add_input(self, heap, element):
        image_id = element.features[self._feature]
        image_id = np.asarray(image_id).reshape(-1)[0]
        image_id = image_id.decode() if isinstance(image_id, bytes) else str(image_id)
        for label, prediction in self._pairs(element):
            label, predicted = int(np.asarray(label).reshape(-1)[0]), int(np.argmax(prediction))
            if predicted != label:
                self._push(heap, (float(np.max(prediction)), image_id, label, predicted))
        return heap

    def _pairs(self, element):
        """(label, probabilities) pairs of one example."""
        return [(lab, pred) for lab, pred, _ in label_prediction_weight(
            element, eval_config=self._eval_config, model_name=self._model_name, output_name=self._output_name,
            flatten=False)]

    def _push(self, heap, item):
        if self._size <= 0:
            return
        if len(heap) < self._size:
            heapq.heappush(heap, item)
        elif item > heap[0]:
            heapq.heapreplace(heap, item)

    def merge_accumulators(self, heaps):
        merged = []
        for heap in heaps:
            for item in heap:
                self._push(merged, item)
        return merged

    def extract_output(self, heap):
        rows = [f"{image_id}|{label}|{predicted}|{confidence:.6f}"
                for confidence, image_id, label, predicted in sorted(heap, reverse=True)]
        return {self._key: np.array(rows, dtype=object)}


CANARIES_NAME = "canary_predictions"


def _canaries(size, feature, name=CANARIES_NAME, eval_config=None, model_name="", output_name="",
              example_weighted=False):
    return _per_example(_CanaryCombineFn, name, size, feature, eval_config, model_name, output_name,
                        example_weighted)


class CanaryPredictions(metric_types.Metric):
    """The predicted class of the `size` examples of lowest contract.records.canary_rank (the same ones on
    every runner): the serving check serves the same records, and the pusher compares the two."""

    def __init__(self, size: int = 32, feature: str = "image_id", name: str = CANARIES_NAME):
        super().__init__(metric_util.merge_per_key_computations(_canaries), size=size, feature=feature,
                         name=name)


class _CanaryCombineFn(_ConfidentErrorsCombineFn):
    """A bounded heap of (-hash, image_id, predicted): keeps the `size` smallest hashes."""

    def add_input(self, heap, element):
        image_id = np.asarray(element.features[self._feature]).reshape(-1)[0]
        image_id = image_id.decode() if isinstance(image_id, bytes) else str(image_id)
        rank = -canary_rank(image_id)
        for _, prediction in self._pairs(element):
            self._push(heap, (rank, image_id, int(np.argmax(prediction))))
        return heap

    def extract_output(self, heap):
        rows = [f"{image_id}|{predicted}" for _, image_id, predicted in sorted(heap, key=lambda t: t[1])]
        return {self._key: np.array(rows, dtype=object)}
