"""End to end: the full 70k Fashion-MNIST run, 1 epoch of LSTM(128), batch 256, nothing cached.

Prints wall, peak memory (and, sampled, how much of it was anonymous memory), the overhead around training
(wall minus the trainer's `model.fit`) and the evaluator's time against issue #15's goals (<= 60 s,
<= 1.0 GB, <= 30 s, <= 9 s). TFX 1.21 cannot be installed on
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
sys.path.insert(0, REPO)
from bench.harness import STEPS, cpu_flags, cpu_ticks, latest_summary, record, stolen, verdict  # noqa: E402
from bench.rss_timeline import sample_peak  # noqa: E402
from cli.dag import components  # noqa: E402

GOALS = {"wall": 60.0, "peak": 1.0, "overhead": 30.0, "evaluator": 9.0}


def run_command(dataset: str, root: str) -> list[str]:
    """The cold run this bench times: the TFX peer's work, one epoch
    of LSTM(128), batch 256, no augmentation, float32."""
    return [sys.executable, "-m", "pipeline", "run", "--no-cache", "--set", f"data.dataset={dataset}",
            "--set", "trainer.epochs=1", "--set", f"pipeline.root={root}", "--set", "trainer.batch_size=256",
            "--set", "trainer.augment=none", "--set", "trainer.precision=float32"]


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
    cmd = ["/usr/bin/time", "-v", *run_command(args.dataset, args.root)]
    ticks = cpu_ticks()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampled = sample_peak(proc)
    out = proc.communicate()[0]
    load = stolen(ticks)
    if proc.returncode:
        raise SystemExit(out[-3000:])
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", out).group(1)
    seconds = sum(float(p) * 60 ** i for i, p in enumerate(reversed(wall.split(":"))))
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out).group(1)) / 1024 / 1024
    summary = latest_summary(args.root)
    steps = {name: summary["components"][name].get("seconds", 0.0) for name in STEPS}
    fit = summary["components"]["trainer"]["facts"]["train_seconds"]
    print(f"\nend to end ({args.dataset}, 1 epoch, cold) on {cpu_flags()}; {load}")
    background = _beside(components())   # not on the wall's path
    print("  steps: " + ", ".join(f"{n} {s:.1f}" + (f" (beside the {background[n]})" if n in background else "")
                                  for n, s in steps.items()) + " s")
    in_line = sum(s for n, s in steps.items() if n not in background)
    print(f"  outside the steps (start-up imports, data checks, run records): {seconds - in_line:.1f} s")
    print(f"  test accuracy {summary['metrics']['accuracy']:.4f}; run {summary['run_id']}")
    print(_line("wall", seconds, GOALS["wall"], "s", "TFX 1.21 per STACK.md: 131 s"))
    print(_line("peak RSS", peak, GOALS["peak"], "GB", "TFX: 2.4 GB"))
    # The file-backed part is pages of TensorFlow's libraries; how many the kernel maps per page touched
    # depends on its page cache (docs/performance.md "What changed, and what it did", 2026-12-03 evening).
    print(f"    of which anonymous {sampled['anon'] / 1024:.2f} GB, file-backed {(sampled['rss'] - sampled['anon']) / 1024:.2f}"
          f" GB (sampled every 20 ms: largest sample {sampled['rss'] / 1024:.2f} GB)")
    print(_line("overhead (wall - model.fit)", seconds - fit, GOALS["overhead"], "s", f"model.fit took {fit:.1f} s"))
    print(_line("evaluator", steps["evaluator"], GOALS["evaluator"], "s", "TFX's Evaluator: 18 s"))


def _beside(dag) -> dict:
    """background step -> the next step in line, which runs beside it."""
    return {spec.name: next(later.name for later in dag[i + 1:] if not later.background)
            for i, spec in enumerate(dag) if spec.background}


def _line(what: str, value: float, goal: float, unit: str, context: str) -> str:
    judged = verdict(f"<= {goal:g} {unit}", value)
    record("e2e.py", f"{what}: {value:.2f} {unit} ({context})", judged)
    return f"  {what}: {value:.2f} {unit} (goal {judged.replace(': ', ', ')}; {context})"


if __name__ == "__main__":
    main()
