"""The Tuner, measured (issue #40): the `tune` profile against the default run, each cold (an empty root), on one
dataset. Variants: the default run; the tune profile with 1 trial at a time and with 2 (the in-process runner's
worker processes); with --flink, the tune profile on the local Flink cluster (make flink-up first). For each:
wall, trials complete / stopped early / failed, the best eval accuracy, the test accuracy. Goals: the tuned
model's test accuracy above the default run's, and the tune profile within 15 minutes here.

    python bench/tuner.py                                  # the MNIST sample
    python bench/tuner.py --flink                          # also on the local cluster
    python bench/tuner.py --dataset fashion_mnist --set tuner.trials=6 --only default,tune-2
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from bench.harness import cpu_flags, cpu_ticks, latest_summary, record, stolen, verdict  # noqa: E402

VARIANTS = {"default": [], "tune-1": ["--profile", "tune", "--set", "tuner.parallel=1"],
            "tune-2": ["--profile", "tune"], "tune-flink": ["--profile", "tune", "--runner", "flink"]}
BUDGET_S = 15 * 60


def run(name: str, dataset: str, sets: list[str]) -> dict:
    root = tempfile.mkdtemp(prefix=f"bench_tuner_{name}_", dir=os.path.join(REPO, "build"))
    extra = [a for kv in sets if name != "default" or not kv.startswith("tuner.") for a in ("--set", kv)]
    cmd = [sys.executable, "-m", "pipeline", "run", "--set", f"data.dataset={dataset}", "--set", f"pipeline.root={root}",
           *VARIANTS[name], *extra]
    ticks, start = cpu_ticks(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"{name} failed:\n{proc.stderr[-3000:]}")
    summary = latest_summary(root)
    tuner = summary["components"].get("tuner", {})
    facts = tuner.get("facts", {})
    shutil.rmtree(root, ignore_errors=True)
    trained = summary["components"]["trainer"]["facts"]
    return {"wall": wall, "test": summary["metrics"]["accuracy"], "examples": summary["metrics"]["examples"],
            "trainer_eval": trained.get("eval_accuracy_keras"), "tuned": trained.get("tuned") or {},
            "tuner_s": tuner.get("seconds"), "facts": facts, "load": stolen(ticks)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--flink", action="store_true", help="also the tune profile on the local Flink cluster")
    parser.add_argument("--only", default="", help="comma-separated variants (default, tune-1, tune-2, tune-flink)")
    parser.add_argument("--set", action="append", default=[], help="dotted.key=value for every variant")
    args = parser.parse_args()
    os.makedirs(os.path.join(REPO, "build"), exist_ok=True)
    names = args.only.split(",") if args.only else ["default", "tune-1", "tune-2"] + (["tune-flink"] if args.flink else [])
    print(f"tuner bench ({args.dataset}; {' '.join(args.set) or 'pipeline.yaml as it is'}) on {cpu_flags()}")
    print(f"{'variant':<11}{'wall s':>8}{'tuner s':>9}  trials (complete/stopped/failed)  best eval  trainer eval"
          "  test accuracy")
    results = {}
    for name in names:
        r = results[name] = run(name, args.dataset, args.set)
        f = r["facts"]
        trials = f"{f['trials']} ({f['complete']}/{f['stopped_early']}/{f['failed']})" if f else "-"
        best = f"{f['best_eval_accuracy']:.4f}" if f else "-"
        print(f"{name:<11}{r['wall']:8.0f}{r['tuner_s'] or 0:9.0f}  {trials:<33}  {best:>9}  {r['trainer_eval']:12.4f}"
              f"  {r['test']:.4f} of {r['examples']}; {r['load']}", flush=True)
        if r["tuned"]:
            print(f"{'':<11}chosen: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                                for k, v in sorted(r["tuned"].items())), flush=True)
    base = results.get("default")
    for name, r in results.items():
        if name == "default":
            continue
        record("tuner.py", f"{args.dataset} {name}: wall {r['wall']:.0f} s (budget {BUDGET_S} s)",
               verdict(f"<= {BUDGET_S}", r["wall"]) if args.dataset == "mnist" else "context")
        if base:
            gain = r["test"] - base["test"]
            print(f"  {name}: test accuracy {r['test']:.4f} against the default run's {base['test']:.4f} ({gain:+.4f})")
            record("tuner.py", f"{args.dataset} {name}: test accuracy {r['test']:.4f} against the default's "
                   f"{base['test']:.4f} ({gain:+.4f})", verdict(">= 0.0001", gain))


if __name__ == "__main__":
    main()
