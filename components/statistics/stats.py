"""Per-split statistics of image records, as mergeable NumPy partials, and their JSON form.

A partial covers any batch of records of one split; partials merge by addition (Beam combines them),
then `finish` turns the sum into the documented JSON (docs/architecture.md "Data statistics and validation"):

    {"count", "labels": {"0": n, ...}, "pixel_histogram": {"edges", "counts"}, "pixel_range": [lo, hi],
     "shape": {"rows": [lo, hi], "width": [lo, hi]}, "row_mean": [28 values], "empty", "saturated",
     "properties": {name: {"mean", "std", "min", "max", "edges", "counts"}}, "duplicates"}
"""
from __future__ import annotations

import numpy as np

from contract.records import SLICE_PROPERTIES, STEPS

PIXEL_EDGES = np.linspace(0, 256, 17)            # 16 bins of intensity
# Fixed ranges, so histograms of different runs and splits are comparable (values outside go to the
# end bins). ink is mean intensity / 255; width/height in pixels; slant in degrees.
PROPERTY_EDGES = {"ink": np.linspace(0, 1, 21), "thickness": np.linspace(0, 10, 21),
                  "width": np.linspace(0, 28, 15), "height": np.linspace(0, 28, 15),
                  "slant": np.linspace(-60, 60, 25)}
SATURATED_SHARE = 0.9                             # an image with >= 90% of its pixels at 255


def partial(images: np.ndarray, labels: np.ndarray, props: dict[str, np.ndarray], num_classes: int) -> dict:
    """images [N, rows, width] float (0..255), labels [N] int, props {name: [N]} -> a partial."""
    n = len(images)
    flat = images.reshape(n, -1)
    out = {
        "count": n,
        # index 0: labels < 0; 1..k: the classes; k + 1: labels >= k
        "labels": np.bincount(np.clip(labels, -1, num_classes) + 1, minlength=num_classes + 2),
        "pixels": np.histogram(flat, bins=PIXEL_EDGES)[0],
        "pixel_min": float(flat.min()) if n else np.inf, "pixel_max": float(flat.max()) if n else -np.inf,
        "shape_rows": [images.shape[1]] * 2 if n else [np.inf, -np.inf],
        "shape_width": [images.shape[2]] * 2 if n else [np.inf, -np.inf],
        "row_sum": images.mean(axis=2).sum(axis=0) if n and images.shape[1] == STEPS else np.zeros(STEPS),
        "empty": int(np.sum(flat.max(axis=1) <= 0)) if n else 0,
        "saturated": int(np.sum((flat >= 255).mean(axis=1) >= SATURATED_SHARE)) if n else 0,
    }
    for name in SLICE_PROPERTIES:
        v = np.asarray(props[name], np.float64)
        edges = PROPERTY_EDGES[name]
        out[name] = {"sum": v.sum(), "sumsq": np.square(v).sum(), "min": v.min(initial=np.inf),
                     "max": v.max(initial=-np.inf),
                     "counts": np.histogram(np.clip(v, edges[0], edges[-1]), bins=edges)[0]}
    return out


def merge(parts: list[dict]) -> dict:
    parts = [p for p in parts if p]
    if not parts:
        return {}
    out = {}
    for key, first in parts[0].items():
        values = [p[key] for p in parts]
        if key in ("pixel_min",):
            out[key] = min(values)
        elif key in ("pixel_max",):
            out[key] = max(values)
        elif key in ("shape_rows", "shape_width"):
            out[key] = [min(v[0] for v in values), max(v[1] for v in values)]
        elif isinstance(first, dict):
            out[key] = {"sum": sum(v["sum"] for v in values), "sumsq": sum(v["sumsq"] for v in values),
                        "min": min(v["min"] for v in values), "max": max(v["max"] for v in values),
                        "counts": sum(v["counts"] for v in values)}
        else:
            out[key] = sum(values[1:], values[0])
    return out


def finish(total: dict) -> dict:
    """A merged partial -> the JSON form of one split (`duplicates` is added by the executor)."""
    n = int(total.get("count", 0))
    if not n:
        return {"count": 0, "labels": {}}
    labels = total["labels"]
    k = len(labels) - 2
    by_label = {str(c): int(labels[c + 1]) for c in range(k) if labels[c + 1]}
    if labels[0]:
        by_label["<0"] = int(labels[0])
    if labels[k + 1]:
        by_label[f">{k - 1}"] = int(labels[k + 1])
    props = {}
    for name in SLICE_PROPERTIES:
        p = total[name]
        mean = p["sum"] / n
        props[name] = {"mean": round(mean, 6), "std": round(float(np.sqrt(max(p["sumsq"] / n - mean * mean, 0))), 6),
                       "min": round(float(p["min"]), 6), "max": round(float(p["max"]), 6),
                       "edges": [round(float(e), 6) for e in PROPERTY_EDGES[name]],
                       "counts": [int(c) for c in p["counts"]]}
    return {"count": n, "labels": by_label,
            "pixel_histogram": {"edges": [int(e) for e in PIXEL_EDGES], "counts": [int(c) for c in total["pixels"]]},
            "pixel_range": [float(total["pixel_min"]), float(total["pixel_max"])],
            "shape": {"rows": [int(v) for v in total["shape_rows"]], "width": [int(v) for v in total["shape_width"]]},
            "row_mean": [round(float(v) / n, 4) for v in total["row_sum"]],
            "empty": int(total["empty"]), "saturated": int(total["saturated"]),
            "properties": props}
