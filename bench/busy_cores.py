"""How many of the machine's cores were busy during each step of one cold run (docs/performance.md,
"2026-12-03: statistics beside transform"): /proc/stat every 0.2 s, averaged over each step's time in
the run's pipeline.log.

    python bench/busy_cores.py --root build/busy_root    # an empty folder; the e2e bench's settings
"""
from __future__ import annotations

import argparse
import datetime
import glob
import os
import re
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from bench.e2e import run_command  # noqa: E402
from bench.harness import cpu_ticks  # noqa: E402

MARK = re.compile(r"(\S+ \S+),(\d+) INFO pipeline.runner: === (\S+)")


def _ticks():
    values = cpu_ticks()
    return sum(values), values[3] + values[4]     # all, and idle + iowait


def _sample(samples: list, stop: threading.Event, cores: int) -> None:
    total, idle = _ticks()
    while not stop.wait(0.2):
        t, i = _ticks()
        samples.append((time.time(), ((t - total) - (i - idle)) / max(1, t - total) * cores))
        total, idle = t, i


def _stamp(text: str, millis: str) -> float:
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").timestamp() + int(millis) / 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True, help="an empty folder to use as the pipeline root")
    args = parser.parse_args()
    cmd = run_command("fashion_mnist", args.root)
    samples, stop = [], threading.Event()
    sampler = threading.Thread(target=_sample, args=(samples, stop, os.cpu_count()), daemon=True)
    sampler.start()
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
    stop.set()
    log = glob.glob(os.path.join(args.root, "runs", "*", "logs", "pipeline.log"))[0]
    marks = [(_stamp(m.group(1), m.group(2)), m.group(3)) for m in map(MARK.match, open(log)) if m]
    marks.append((samples[-1][0] + 1, "end"))
    for (start, name), (end, _) in zip(marks, marks[1:]):
        busy = [b for t, b in samples if start <= t < end]
        print(f"{name:16s} {end - start:6.1f} s  busy cores {sum(busy) / max(1, len(busy)):.2f} of {os.cpu_count()}")


if __name__ == "__main__":
    main()
