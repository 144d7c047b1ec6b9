"""Read TFMA's output (metrics and plots protos) into plain, JSON-ready numbers."""
from __future__ import annotations

import math

import tensorflow_model_analysis as tfma

from components.evaluator.config import ACCURACY, BASELINE, CANDIDATE, COUNT


def _slice(slice_key) -> tuple[str, dict]:
    parts = {}
    for k in slice_key.single_slice_keys:
        kind = k.WhichOneof("kind")
        value = getattr(k, kind)
        parts[k.column] = value.decode() if isinstance(value, bytes) else value
    name = ", ".join(f"{c}={v}" for c, v in parts.items()) or "overall"
    return name, parts


def _sort_key(row):
    return (len(row["features"]), sorted(row["features"]), [float(v) for v in row["features"].values()])


def wilson(accuracy: float | None, n: int, z: float = 1.96) -> list[float] | None:
    """95% Wilson score interval of a proportion: stays within [0, 1] and behaves for small n."""
    if accuracy is None or n == 0:
        return None
    centre = (accuracy + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(accuracy * (1 - accuracy) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 6), round(min(1.0, centre + half), 6)]


def per_class(matrix: list[list[int]]) -> dict:
    """Precision and recall of each class from the confusion matrix [true][predicted]."""
    out = {}
    for k in range(len(matrix)):
        predicted = sum(row[k] for row in matrix)
        actual = sum(matrix[k])
        out[k] = {"precision": matrix[k][k] / predicted if predicted else None,
                  "recall": matrix[k][k] / actual if actual else None}
    return out


def read_results(output_path: str, num_classes: int) -> dict:
    """{'overall': row, 'slices': [row...], 'per_class': {class: {precision, recall}}, 'confusion': [[n]]}

    A row: slice, features, count, accuracy, ci [lower, upper] (Wilson, 95%), baseline_accuracy, diff.
    """
    rows = []
    for m in tfma.load_metrics(output_path):
        name, parts = _slice(m.slice_key)
        row = {"slice": name, "features": parts, "count": 0, "accuracy": None, "ci": None,
               "baseline_accuracy": None, "diff": None}
        for kv in m.metric_keys_and_values:
            key, value = kv.key, kv.value.double_value.value
            cand = key.model_name in ("", CANDIDATE)
            if key.name == COUNT and cand and not key.is_diff:
                row["count"] = int(value)
            elif key.name == ACCURACY and cand and not key.is_diff:
                row["accuracy"] = value
            elif key.name == ACCURACY and key.is_diff:
                row["diff"] = value
            elif key.name == ACCURACY and key.model_name == BASELINE:
                row["baseline_accuracy"] = value
        row["ci"] = wilson(row["accuracy"], row["count"])
        rows.append(row)
    rows.sort(key=_sort_key)
    confusion = _confusion(output_path, num_classes)
    return {"overall": next(r for r in rows if r["slice"] == "overall"), "slices": rows,
            "per_class": per_class(confusion), "confusion": confusion}


def _confusion(output_path: str, k: int) -> list[list[int]]:
    """k x k counts [true][predicted] of the overall slice (argmax prediction)."""
    matrix = [[0] * k for _ in range(k)]
    for plots in tfma.load_plots(output_path):
        if plots.slice_key.single_slice_keys:
            continue
        for kv in plots.plot_keys_and_values:
            if kv.key.model_name not in ("", CANDIDATE):
                continue
            for m in kv.value.multi_class_confusion_matrix_at_thresholds.matrices[:1]:
                for e in m.entries:
                    if 0 <= e.actual_class_id < k and 0 <= e.predicted_class_id < k:
                        matrix[e.actual_class_id][e.predicted_class_id] = int(e.num_weighted_examples)
    return matrix
