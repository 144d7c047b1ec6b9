"""Transformed tf.Examples: our wire encoder (contract/wire.py, used by transform) against tfx_bsl's
RecordBatchToExamplesEncoder on the same Arrow batch: speed, and whether the bytes are reproducible.

    python bench/encoders.py          # prints µs per example, the ratio, and byte-level checks
"""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def main(n: int = 5000) -> None:
    import numpy as np
    import pyarrow as pa
    import tensorflow as tf
    from tfx_bsl.coders.example_coder import RecordBatchToExamplesEncoder

    from bench.flink import cpu_flags
    from components.transform.executor import keyed_examples
    rng = np.random.default_rng(0)
    labels = pa.array([[int(v)] for v in rng.integers(0, 10, n)], type=pa.large_list(pa.int64()))
    pixels = pa.array(list(rng.random((n, 784), dtype=np.float32)), type=pa.large_list(pa.float32()))
    ids = pa.array([[f"bench/train/{i:05d}".encode()] for i in range(n)], type=pa.large_list(pa.large_binary()))
    ours_in = pa.RecordBatch.from_arrays([labels, ids, pixels], names=["label", "image_id", "pixels_xf"])
    theirs_in = pa.RecordBatch.from_arrays([labels, pixels], names=["label", "pixels_xf"])  # image_id is the key
    encoder = RecordBatchToExamplesEncoder()
    best = {"ours": 1e9, "tfx_bsl": 1e9}
    for _ in range(3):
        start = time.perf_counter()
        ours = [b for _, b in keyed_examples((ours_in, None))]
        best["ours"] = min(best["ours"], time.perf_counter() - start)
        start = time.perf_counter()
        theirs = encoder.encode(theirs_in)
        best["tfx_bsl"] = min(best["tfx_bsl"], time.perf_counter() - start)
    again = encoder.encode(theirs_in)
    print(f"transformed-example encoders, {n} examples of 784 floats, on {cpu_flags()}")
    print(f"  ours (contract/wire.py) {best['ours'] / n * 1e6:.1f} µs/example; tfx_bsl "
          f"{best['tfx_bsl'] / n * 1e6:.1f} µs/example; tfx_bsl/ours {best['tfx_bsl'] / best['ours']:.2f}x")
    print(f"  same parsed content: {all(tf.train.Example.FromString(a) == tf.train.Example.FromString(b) for a, b in zip(ours[:200], theirs[:200]))}; "
          f"byte-identical to ours: {sum(a == b for a, b in zip(ours, theirs))} of {n}; "
          f"tfx_bsl equal to itself on a second encode: {sum(a == b for a, b in zip(theirs, again))} of {n}")


if __name__ == "__main__":
    main()
