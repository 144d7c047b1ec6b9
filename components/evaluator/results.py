"""Read TFMA's output (metrics and plots protos) into plain, JSON-ready numbers."""
from __future__ import annotations

import tensorflow_model_analysis as tfma

from components.evaluator.config import ACCURACY, BASELINE, CANDIDATE


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


def read_results(output_path: str) -> dict:
    """{'overall': row, 'slices': [row...], 'per_class': {class: {precision, recall}}, 'confusion': [[n]]}

    A row: slice, features, count, accuracy, ci (lower, upper) or None, baseline_accuracy, diff.
    """
    rows, per_class = [], {}
    for m in tfma.load_metrics(output_path):
        name, parts = _slice(m.slice_key)
        row = {"slice": name, "features": parts, "count": 0, "accuracy": None, "ci": None,
               "baseline_accuracy": None, "diff": None}
        for kv in m.metric_keys_and_values:
            key, value = kv.key, kv.value.double_value.value
            cand = key.model_name in ("", CANDIDATE)
            if key.name == "example_count" and cand and not key.is_diff:
                row["count"] = int(value)
            elif key.name == ACCURACY and cand and not key.is_diff:
                row["accuracy"] = value
                if kv.HasField("confidence_interval"):
                    ci = kv.confidence_interval
                    row["ci"] = [ci.lower_bound.double_value.value, ci.upper_bound.double_value.value]
            elif key.name == ACCURACY and key.is_diff:
                row["diff"] = value
            elif key.name == ACCURACY and key.model_name == BASELINE:
                row["baseline_accuracy"] = value
            elif key.name in ("precision", "recall") and cand and not key.is_diff and not parts:
                per_class.setdefault(key.sub_key.class_id.value, {})[key.name] = value
        rows.append(row)
    rows.sort(key=_sort_key)
    return {"overall": next(r for r in rows if r["slice"] == "overall"), "slices": rows,
            "per_class": {int(k): v for k, v in sorted(per_class.items())}, "confusion": _confusion(output_path)}


def _confusion(output_path: str) -> list[list[int]]:
    """10x10 counts [true][predicted] of the overall slice (argmax prediction)."""
    matrix = [[0] * 10 for _ in range(10)]
    for plots in tfma.load_plots(output_path):
        if plots.slice_key.single_slice_keys:
            continue
        for kv in plots.plot_keys_and_values:
            if kv.key.model_name not in ("", CANDIDATE):
                continue
            for m in kv.value.multi_class_confusion_matrix_at_thresholds.matrices[:1]:
                for e in m.entries:
                    if 0 <= e.actual_class_id < 10 and 0 <= e.predicted_class_id < 10:
                        matrix[e.actual_class_id][e.predicted_class_id] = int(e.num_weighted_examples)
    return matrix
