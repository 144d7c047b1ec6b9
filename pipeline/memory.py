"""The pipeline process's memory: handing what a step freed back to the system before the next step.

All steps run in one process (TensorFlow, Beam and TFMA loaded once), so what one step leaves free in
the C heap is what the next step's peak stands on. Measured on the 70k Fashion-MNIST 1-epoch run
(docs/performance.md "What changed, and what it did", 2026-12-02): after a step, `malloc_trim`
returns the free pages of every glibc arena to the system, and the evaluator then started at 0.89-0.90
GB instead of 0.93 (with a `gc.collect()` before the trim; without it the run's peak was the same, 0.98
GB in two alternating runs each, and the small steps took 0.0 s instead of 0.2-0.3). Capping glibc's
arenas as well (mallopt M_ARENA_MAX=2) took another 0.02 GB off, but `model.fit` was slow in every run
with it, so the arenas keep glibc's defaults. A no-op where the C library is not glibc.

    python -c "from pipeline import memory; memory.release()"
"""
from __future__ import annotations

import ctypes
import ctypes.util


def _glibc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def release() -> None:
    """Return glibc's free heap pages to the system (between steps). No `gc.collect()`: with
    TensorFlow, Beam and TFMA loaded, a full collection walks about 600k objects (0.5-0.9 s measured
    with the other core busy), and it did not lower the peak."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
