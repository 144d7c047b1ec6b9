"""Numbers the report derives from TFMA's output: Wilson intervals, per-class precision/recall, our metrics."""
import numpy as np
import pytest

from components.evaluator.results import per_class, wilson


def test_wilson_interval():
    low, high = wilson(0.5, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    assert wilson(1.0, 8)[1] == 1.0 and 0.6 < wilson(1.0, 8)[0] < 0.7     # bounded, unlike a t-interval
    assert wilson(0.9, 10_000)[1] - wilson(0.9, 10_000)[0] < wilson(0.9, 100)[1] - wilson(0.9, 100)[0]
    assert wilson(None, 5) is None and wilson(0.5, 0) is None


def test_precision_recall_from_confusion():
    matrix = [[3, 1, 0], [0, 4, 0], [1, 0, 0]]                               # [true][predicted]
    got = per_class(matrix)
    assert got[0] == {"precision": 3 / 4, "recall": 3 / 4}
    assert got[1] == {"precision": 4 / 5, "recall": 1.0}
    assert got[2] == {"precision": None, "recall": 0.0}                    # never predicted


def _layouts():
    from tensorflow_model_analysis.metrics import metric_types
    one = dict(labels=np.array([2]), predictions={"probabilities": np.array([0.1, 0.2, 0.7])},
               example_weights=None, features={})
    two = dict(labels={"candidate": np.array([0]), "baseline": np.array([0])},
               predictions={"candidate": {"probabilities": np.array([0.6, 0.4]), "classes": np.array([0])},
                            "baseline": {"probabilities": np.array([0.2, 0.8]), "classes": np.array([1])}},
               example_weights={"candidate": np.array([1.0]), "baseline": np.array([1.0])}, features={})
    return [(metric_types.StandardMetricInputs(**one), ""), (metric_types.StandardMetricInputs(**two), "candidate"),
            (metric_types.StandardMetricInputs(**two), "baseline")]


def test_direct_label_prediction_read_equals_tfma_general_one():
    from tensorflow_model_analysis.metrics import metric_util

    from components.evaluator.metrics import direct_pair, label_prediction_weight
    for element, model in _layouts():
        assert direct_pair(element, model) is not None  # the fast path is taken for these layouts
        ours = list(label_prediction_weight(element, model_name=model, flatten=False,
                                            require_single_example_weight=True))
        theirs = list(metric_util.to_label_prediction_example_weight(
            element, model_name=model, flatten=False, require_single_example_weight=True))
        assert len(ours) == len(theirs) == 1
        for a, b in zip(ours[0], theirs[0]):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_confusion_matrix_plot_counts_argmax_classes_per_model():
    from components.evaluator.metrics import ArgmaxConfusionMatrixPlot
    for element, model in _layouts():
        comps = ArgmaxConfusionMatrixPlot().computations(model_names=[model], output_names=[""])
        matrices, derived = comps[0], comps[-1]
        acc = matrices.combiner.add_input(matrices.combiner.create_accumulator(), element)
        (plot,) = derived.result(matrices.combiner.extract_output(acc)).values()
        (cell,) = plot.matrices[0].entries
        label = int(np.asarray(element.labels[model] if model else element.labels).item())
        probs = element.predictions[model]["probabilities"] if model else element.predictions["probabilities"]
        assert (cell.actual_class_id, cell.predicted_class_id, cell.num_weighted_examples) == (
            label, int(np.argmax(probs)), 1.0)


def test_example_count_and_accuracy_come_from_one_confusion_matrix():
    from components.evaluator.metrics import ArgmaxAccuracy, ArgmaxExampleCount
    element, model = _layouts()[0]                                   # label 2, argmax 2
    count, accuracy = (m.computations(model_names=[model], output_names=[""]) for m in
                       (ArgmaxExampleCount(), ArgmaxAccuracy()))
    assert count[0].keys == accuracy[0].keys                          # TFMA runs the shared matrix once
    fn = count[0].combiner
    acc = fn.merge_accumulators([fn.add_input(fn.create_accumulator(), element) for _ in range(3)])
    matrices = {count[0].keys[0]: fn.extract_output(acc)[count[0].keys[0]]}
    assert list(count[-1].result(matrices).values()) == [3.0]
    assert list(accuracy[-1].result(matrices).values()) == [1.0]
