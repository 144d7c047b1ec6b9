"""Run benchmark variants as separate processes under /usr/bin/time -v: wall, work time and peak RSS.

Each variant prints `SECONDS=<work seconds>` (imports excluded) and optional `ITEMS=<n>` lines.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = ("ingest", "statistics", "validator", "transform", "trainer", "evaluator", "infra_validator",
         "pusher", "report")   # the pipeline's order, for printing


def cpu_flags() -> str:
    """The CPU model and the flags that decide what is fast (printed beside every figure)."""
    text = open("/proc/cpuinfo").read()
    model = next((l.split(":", 1)[1].strip() for l in text.splitlines() if l.startswith("model name")), "?")
    flags = set(next((l.split(":", 1)[1].split() for l in text.splitlines() if l.startswith("flags")), []))
    keep = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in flags]
    return f"{model}; {os.cpu_count()} cores; flags: {' '.join(keep) or 'none of avx2/avx512/amx'}"


def cpu_ticks() -> list[int]:
    """The whole machine's CPU time so far (/proc/stat): user nice system idle iowait irq softirq steal."""
    with open("/proc/stat") as f:
        return [int(v) for v in f.readline().split()[1:9]]


def stolen_share(before: list[int]) -> float:
    """The share of CPU time the host took from this VM since `before` (on these shared machines it has
    been 0 to 45%, and every time moves with it)."""
    spent = [a - b for a, b in zip(cpu_ticks(), before)]
    return spent[7] / max(1, sum(spent))


def stolen(before: list[int]) -> str:
    """stolen_share as printed beside timed figures."""
    return f"{100 * stolen_share(before):.0f}% of the CPU time stolen by the host meanwhile"


def measure(script: str, variant: str, *args: str) -> dict:
    cmd = ["/usr/bin/time", "-v", sys.executable, script, "--variant", variant, *args]
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
    ticks = cpu_ticks()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"{variant} failed:\n{proc.stderr[-3000:]}")
    out = proc.stdout + proc.stderr
    found = {k: float(v) for k, v in re.findall(r"^(SECONDS|ITEMS|ACCURACY)=([\d.]+)$", out, re.M)}
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", out)
    parts = [float(p) for p in wall.group(1).split(":")]
    found["wall"] = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    found["peak_gb"] = int(rss.group(1)) / 1024 / 1024
    found["stolen"] = stolen_share(ticks)
    return found


def report(title: str, ours: dict, base: dict, goal: str, higher_is_better: bool = False) -> None:
    key = "rate" if higher_is_better else "SECONDS"
    ratio = ours[key] / base[key]
    print(f"\n{title} on {cpu_flags()}")
    for name, r in (("ours", ours), ("baseline", base)):
        extra = f", {r['rate']:.0f} items/s" if "rate" in r else ""
        print(f"  {name:<9} work {r['SECONDS']:7.2f} s{extra}, process wall {r['wall']:6.1f} s, peak {r['peak_gb']:.2f} GB, "
              f"{100 * r.get('stolen', 0):.0f}% of the CPU stolen")
    print(f"  ratio ours/baseline: {ratio:.2f}x ({'throughput' if higher_is_better else 'time'}; goal {goal})")
    record(os.path.basename(sys.argv[0]), f"{title}: {ratio:.2f}x ({ours[key]:.2f} against {base[key]:.2f}"
           f"{' items/s' if higher_is_better else ' s'}; {100 * max(ours.get('stolen', 0), base.get('stolen', 0)):.0f}% "
           f"stolen)", verdict(goal, ratio))


def verdict(goal: str, value: float) -> str:
    """The goal with its outcome, for the table: verdict('<= 2x', 1.7) == '<= 2x: met'; a goal that is no
    bound (say 'none; context') comes back as it is."""
    bound = re.match(r"(<=|>=) ([\d.]+)", goal)
    if not bound:
        return goal
    met = value <= float(bound.group(2)) if bound.group(1) == "<=" else value >= float(bound.group(2))
    return f"{goal}: {'met' if met else 'MISSED'}"


def latest_summary(root: str) -> dict:
    """summary.json of the latest finished run under a pipeline root."""
    import json
    run_id = open(os.path.join(root, "runs", "latest")).read().strip()
    return json.load(open(os.path.join(root, "runs", run_id, "summary.json")))


def variant_args(default_root: str = "pipeline_root", extra=()):
    """--variant (ours | baseline; none: measure both) and --root, as every run-based bench takes them;
    extra: (flag, type, default) a bench adds."""
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", choices=["ours", "baseline"])
    parser.add_argument("--root", default=default_root)
    for flag, kind, default in extra:
        parser.add_argument(flag, type=kind, default=default)
    return parser.parse_args()


RESULTS = os.path.join(REPO, "build", "bench", "results.jsonl")


def record(bench: str, figure: str, goal: str = "") -> None:
    """One figure of this `make bench` for the table bench/table.py writes into docs/performance.md; printed
    lines stay the benchmarks' own. The machine, its steal since the last record and the commit go with it."""
    import json
    import time
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip()
    with open(RESULTS, "a") as f:
        f.write(json.dumps({"bench": bench, "figure": figure, "goal": goal, "cpu": cpu_flags(), "commit": commit,
                            "time": time.strftime("%Y-%m-%d %H:%M")}) + "\n")
