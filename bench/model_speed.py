"""Seconds per training step of trainer models, on random data, each in this one process (no pipeline).

Each spec is cell,bidirectional,columns,pool,batch[,step_filters] (e.g. 128,1,1,last+max,512,16); prints ms per step and
the seconds one epoch of Fashion-MNIST's 53,939 train images would take. Used to choose the `full` profile.
--per-step times every step instead (a Keras callback) and prints their spread and the cores the process
used: how much the machine's speed moves within a minute (docs/performance.md, "model.fit's two speeds").

    python bench/model_speed.py 256,1,0,last,256 128,1,1,last+max,512 [--precision float32]
    python bench/model_speed.py 128,0,0,last,256 --precision float32 --per-step 120   # the e2e bench's model
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
    parser.add_argument("--per-step", type=int, metavar="STEPS", help="time each of this many steps")
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
        if args.per_step:
            per_step(model, int(batch), args.per_step, spec)
            continue
        start = time.perf_counter()
        model.fit(x, y, batch_size=int(batch), epochs=3, verbose=0)
        step = (time.perf_counter() - start) / 24
        print(f"  {spec}: {step * 1000:.0f} ms/step, an epoch of 53,939 images {step * 53939 / int(batch):.0f} s, "
              f"{model.count_params():,} weights")


def per_step(model, batch: int, steps: int, spec: str) -> None:
    """One epoch of `steps` steps on random data, each step timed; the spread and the cores used."""
    import numpy as np
    import tf_keras as keras
    rng = np.random.default_rng(2)
    x, y = rng.random((batch * steps, 784), np.float32), rng.integers(0, 10, batch * steps)
    times: list[float] = []

    class StepTimes(keras.callbacks.Callback):
        def on_train_batch_begin(self, step, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, step, logs=None):
            times.append((time.perf_counter() - self.start) * 1000)

    cpu, wall = time.process_time(), time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, callbacks=[StepTimes()])
    cores = (time.process_time() - cpu) / (time.perf_counter() - wall)
    ms = np.array(times)
    print(f"  {spec}: {len(ms)} steps, mean {ms.mean():.0f} ms, p10 {np.percentile(ms, 10):.0f}, median "
          f"{np.median(ms):.0f}, p90 {np.percentile(ms, 90):.0f}, min {ms.min():.0f}, max {ms.max():.0f}; "
          f"the process used {cores:.2f} cores")


if __name__ == "__main__":
    main()
