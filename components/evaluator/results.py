"""Read TFMA's output back (tfma.load_eval_result) into plain, JSON-ready numbers."""
from __future__ import annotations

import tensorflow_model_analysis as tfma


def _value(metric: dict):
    for key in ("doubleValue", "int64Value"):
        if key in metric:
            return float(metric[key])
    return None


def slice_name(slice_key) -> str:
    """() -> 'overall'; (('label', 3),) -> 'label=3'."""
    return "overall" if not slice_key else ", ".join(f"{k}={v}" for k, v in slice_key)


def read_results(output_path: str) -> dict:
    """{'overall': {...}, 'slices': [{'slice', 'feature', 'value', 'count', 'accuracy'}, ...]}"""
    result = tfma.load_eval_result(output_path)
    rows = []
    for slice_key, by_output in result.slicing_metrics:
        metrics = by_output[""][""]
        rows.append({
            "slice": slice_name(slice_key),
            "feature": slice_key[0][0] if slice_key else "",
            "value": slice_key[0][1] if slice_key else "",
            "count": int(_value(metrics.get("example_count", {})) or 0),
            "accuracy": _value(metrics.get("sparse_categorical_accuracy", {})),
        })
    rows.sort(key=lambda r: (r["feature"], str(r["value"]).zfill(8)))
    overall = next(r for r in rows if r["slice"] == "overall")
    return {"overall": overall, "slices": rows}
