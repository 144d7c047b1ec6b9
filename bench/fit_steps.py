"""Milliseconds per training step of the e2e benchmark's model (LSTM(128), batch 256, float32) on random
data, step by step, in this one process: shows how much one machine's speed moves within a minute.

    python bench/fit_steps.py [--steps 120]
    TF_NUM_INTEROP_THREADS=1 python bench/fit_steps.py      # a thread setting, to compare in turns
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
    parser.add_argument("--steps", type=int, default=120)
    args = parser.parse_args()
    import numpy as np
    import tf_keras as keras

    from bench.harness import cpu_flags
    from components.trainer.model import build_model
    model = build_model(128, 2e-3, 10)
    rng = np.random.default_rng(0)
    x, y = rng.random((256 * args.steps, 784), np.float32), rng.integers(0, 10, 256 * args.steps)
    model.fit(x[:2560], y[:2560], batch_size=256, epochs=1, verbose=0)   # warm-up: tracing
    times: list[float] = []

    class StepTimes(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            times.append((time.perf_counter() - self.start) * 1000)

    cpu, wall = time.process_time(), time.perf_counter()
    model.fit(x, y, batch_size=256, epochs=1, verbose=0, callbacks=[StepTimes()])
    share = (time.process_time() - cpu) / (time.perf_counter() - wall)
    ms = np.array(times)
    print(f"{len(ms)} steps on {cpu_flags()}: mean {ms.mean():.0f} ms, p10 {np.percentile(ms, 10):.0f}, "
          f"median {np.median(ms):.0f}, p90 {np.percentile(ms, 90):.0f}, min {ms.min():.0f}, max {ms.max():.0f}; "
          f"process CPU time / wall {share:.2f}")


if __name__ == "__main__":
    main()
