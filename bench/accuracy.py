"""Accuracy goals of issue #15, from named pipeline runs on empty roots (kept, so their summaries can be cited).

- the default run (what `make pipeline` runs, on the offline MNIST sample): eval accuracy >= 0.97 with the
  trainer taking <= 2 minutes;
- the `full` profile on Fashion-MNIST: test accuracy >= 0.92 in <= 15 minutes of wall, cold.

    python bench/accuracy.py                 # both (about 17 minutes here)
    python bench/accuracy.py --only default  # or: --only full
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from bench.harness import cpu_flags, cpu_ticks, latest_summary, record, stolen, verdict  # noqa: E402

ROOT = os.path.join(REPO, "build", "bench_accuracy")
RUNS = {
    # name: (extra arguments, goal on accuracy, what is timed, goal in seconds)
    "default": ((), 0.97, "trainer", 120.0),
    "full": (("--profile", "full", "--set", "data.dataset=fashion_mnist"), 0.92, "run wall", 900.0),
}


def run(name: str) -> None:
    extra, accuracy_goal, timed, seconds_goal = RUNS[name]
    root = os.path.join(ROOT, name)
    shutil.rmtree(root, ignore_errors=True)  # cold: no cache and no blessed baseline
    cmd = [sys.executable, "-m", "pipeline", "run", *extra, "--set", f"pipeline.root={root}"]
    start, ticks = time.perf_counter(), cpu_ticks()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall, load = time.perf_counter() - start, stolen(ticks)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    summary = latest_summary(root)
    metrics, trainer = summary["metrics"], summary["components"]["trainer"]
    seconds = trainer["seconds"] if timed == "trainer" else wall
    facts = trainer["facts"]
    print(f"\naccuracy, {name} run: python -m pipeline run {' '.join(extra)} (cold, root {os.path.relpath(root, REPO)})")
    best = f" (best {facts['best_epoch']})" if facts.get("best_epoch") else ""
    print(f"  run {summary['run_id']}: {summary['dataset']}, {facts['epochs']} epochs{best}, "
          f"precision {facts['precision']}, summary {os.path.relpath(summary_path(root, summary), REPO)}")
    run_of = f"{name} run ({summary['dataset']}, {facts['epochs']} epochs, run {summary['run_id']})"
    print(_line(run_of, f"{metrics['split']} accuracy", metrics["accuracy"], accuracy_goal, at_least=True))
    print(_line(run_of, f"{timed} seconds", seconds, seconds_goal, at_least=False)
          + f" (run wall {wall:.0f} s, trainer {trainer['seconds']:.0f} s; {load})")


def summary_path(root: str, summary: dict) -> str:
    return os.path.join(root, "runs", summary["run_id"], "summary.json")


def _line(run_of: str, what: str, value: float, goal: float, at_least: bool) -> str:
    judged = verdict(f"{'>=' if at_least else '<='} {goal:g}", value)
    record("accuracy.py", f"{run_of}: {what} {value:.4g}", judged)
    return f"  {what}: {value:.4g} (goal {judged.replace(': ', ', ')})"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=sorted(RUNS))
    args = parser.parse_args()
    print(f"accuracy runs on {cpu_flags()}")
    for name in [args.only] if args.only else list(RUNS):
        run(name)


if __name__ == "__main__":
    main()
