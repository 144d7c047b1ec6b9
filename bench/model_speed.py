"""Seconds per training step of trainer models, on random data, each in this one process (no pipeline).

Each spec is cell,bidirectional,columns,pool,batch[,step_filters] (e.g. 128,1,1,last+max,512,16); prints ms per step and
the seconds one epoch of Fashion-MNIST's 53,939 train images would take. Used to choose the `full` profile.

    python bench/model_speed.py 256,1,0,last,256 128,1,1,last+max,512 [--precision float32]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("specs", nargs="+")
    parser.add_argument("--precision", default="mixed_bfloat16")
    args = parser.parse_args()
    import numpy as np
    import tf_keras as keras

    from bench.harness import cpu_flags
    from components.trainer.model import build_model
    print(f"training steps on random data, {args.precision}, on {cpu_flags()}")
    keras.mixed_precision.set_global_policy(args.precision)
    for spec in args.specs:
        cell, bi, cols, pool, batch, *filters = spec.split(",")
        model = build_model(int(cell), 2e-3, 10, bi == "1", 0.3, 1000, columns=cols == "1", pool=pool,
                            step_filters=int(filters[0]) if filters else 0)
        x = np.random.default_rng(0).random((int(batch) * 8, 784), np.float32)
        y = np.random.default_rng(1).integers(0, 10, len(x))
        model.fit(x, y, batch_size=int(batch), epochs=1, verbose=0)   # warm-up: tracing
        start = time.perf_counter()
        model.fit(x, y, batch_size=int(batch), epochs=3, verbose=0)
        step = (time.perf_counter() - start) / 24
        print(f"  {spec}: {step * 1000:.0f} ms/step, an epoch of 53,939 images {step * 53939 / int(batch):.0f} s, "
              f"{model.count_params():,} weights")


if __name__ == "__main__":
    main()
