"""End to end: the full 70k Fashion-MNIST run, 1 epoch of LSTM(128), batch 256, nothing cached.

Prints wall and peak memory against the goal (<= 65 s, <= 1.2 GB). TFX 1.21 cannot be installed on
this machine (see ../shared/STACK.md), so it cannot run beside ours; its figure for the same work on
this kind of machine, 131 s and 2.4 GB, is quoted from STACK.md for context, not measured here.
Each run starts from an empty pipeline root (a fresh temporary folder unless --root is given): with a
blessed model already there, the evaluator would also evaluate that baseline and the run would not be cold.

    python bench/e2e.py
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default=None, help="an empty folder to use as the pipeline root")
    parser.add_argument("--dataset", default="fashion_mnist")
    args = parser.parse_args()
    if args.root is None:
        os.makedirs(os.path.join(REPO, "build"), exist_ok=True)
        args.root = tempfile.mkdtemp(prefix="bench_root_", dir=os.path.join(REPO, "build"))
        try:
            return _run(args)
        finally:
            shutil.rmtree(args.root, ignore_errors=True)
    if os.path.exists(os.path.join(args.root, "runs")):
        raise SystemExit(f"{args.root} already holds runs; give an empty folder (or none) for a cold run")
    _run(args)


def _run(args):
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "pipeline", "run", "--no-cache",
           "--set", f"data.dataset={args.dataset}", "--set", "trainer.epochs=1", "--set", f"pipeline.root={args.root}",
           # the TFX peer's work: one epoch of LSTM(128), batch 256, no augmentation, float32
           "--set", "trainer.batch_size=256", "--set", "trainer.augment=none", "--set", "trainer.precision=float32"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    if proc.returncode:
        raise SystemExit(out[-3000:])
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", out).group(1)
    seconds = sum(float(p) * 60 ** i for i, p in enumerate(reversed(wall.split(":"))))
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out).group(1)) / 1024 / 1024
    print(f"\nend to end ({args.dataset}, 1 epoch, cold)")
    print("\n".join("  " + line.strip() for line in proc.stdout.splitlines()
                     if re.match(r"\S+\s+(succeeded|cached)\s", line) or line.startswith("accuracy")))
    print(f"  wall {seconds:.1f} s (goal <= 65 s; TFX 1.21 per STACK.md: 131 s), peak {peak:.2f} GB (goal <= 1.2 GB; TFX: 2.4 GB)")


if __name__ == "__main__":
    main()
