"""Image properties used as evaluation slices, and their bucket edges (quantiles of the train split).

    python -c "import numpy as np; from contract.features import properties; \
print(properties(np.zeros((1, 28, 28), np.uint8)))"
"""
from __future__ import annotations

import bisect

import numpy as np

NAMES = ("ink", "thickness", "width", "height", "slant")
INK_LEVEL = 128  # a pixel at or above this is part of the stroke


def properties(images: np.ndarray) -> dict[str, np.ndarray]:
    """[N, 28, 28] uint8 -> {name: float32[N]}.

    ink: mean intensity / 255. width, height: bounding box of stroke pixels (0 if none).
    thickness: stroke area / half its perimeter, which is about the pen width for a long thin stroke.
    slant: angle in degrees of the shear that makes the image upright (image moments mu11 / mu02);
    positive leans right.
    """
    x = images.astype(np.float32)
    mask = images >= INK_LEVEL
    n = len(images)
    cols, rows = mask.any(axis=1), mask.any(axis=2)
    width = np.where(cols.any(1), 28 - cols[:, ::-1].argmax(1) - cols.argmax(1), 0)
    height = np.where(rows.any(1), 28 - rows[:, ::-1].argmax(1) - rows.argmax(1), 0)
    area = mask.sum(axis=(1, 2))
    edges = (np.diff(mask, axis=1, prepend=False, append=False).sum(axis=(1, 2))
             + np.diff(mask, axis=2, prepend=False, append=False).sum(axis=(1, 2)))
    thickness = np.where(edges > 0, area / np.maximum(edges / 2, 1), 0)
    total = x.sum(axis=(1, 2))
    safe = np.maximum(total, 1e-6)
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float32)
    cy = (x * yy).sum(axis=(1, 2)) / safe
    cx = (x * xx).sum(axis=(1, 2)) / safe
    dy, dx = yy[None] - cy[:, None, None], xx[None] - cx[:, None, None]
    mu11 = (x * dx * dy).sum(axis=(1, 2))
    mu02 = (x * dy * dy).sum(axis=(1, 2))
    # rows grow downwards, so a right lean has negative mu11
    slant = np.where(mu02 > 0, np.degrees(np.arctan(-mu11 / np.maximum(mu02, 1e-6))), 0)
    out = {"ink": x.mean(axis=(1, 2)) / 255.0, "thickness": thickness, "width": width, "height": height, "slant": slant}
    return {k: np.asarray(v, np.float32).reshape(n) for k, v in out.items()}


def properties_in_chunks(images: np.ndarray, chunk: int = 4096) -> dict[str, np.ndarray]:
    """properties() of many images, a chunk at a time: the same values, with a bounded working set.

    properties() makes several float32 copies of its input; on the 54,000 Fashion-MNIST train images
    at once that was most of the pipeline's peak memory."""
    parts = [properties(images[s:s + chunk]) for s in range(0, len(images), chunk)] or [properties(images[:0])]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def bucket_edges(values: np.ndarray, buckets: int) -> list[float]:
    """Inner edges at the 1/b, 2/b, ... quantiles, so each bucket holds about the same share of train."""
    if len(values) == 0:
        return []
    qs = np.quantile(values.astype(np.float64), [i / buckets for i in range(1, buckets)])
    return [round(float(q), 6) for q in qs]


def bucket_of(value: float, edges: list[float]) -> int:
    """Bucket index: 0 below the first edge, len(edges) at or above the last."""
    return bisect.bisect_right(edges, float(value))  # per record: plain Python beats a NumPy call
