"""The same cold run with its pipeline root on a local folder and on gs:// (the local object store of
ops/gcs.py: fake-gcs-server behind its TLS front, all on loopback), one after the other in one process
tree: the wall of each step and of the whole run, and the ratio gs:// / local.

What the gs:// figure includes: every read and write of TensorFlow, Beam and the serving check going
through HTTP(S) to a server on this machine, with its CPU taken from the same 2 cores. A real bucket adds
network latency and bandwidth instead; this measures what our code does per object, not Google's service.

    python bench/gcs.py [--dataset fashion_mnist] [--repeat 1]     # make bench-gcs
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from bench.e2e import run_command  # noqa: E402
from bench.harness import STEPS, cpu_flags, cpu_ticks, record, stolen  # noqa: E402


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def _run(root: str, metadata: str, env: dict, dataset: str) -> tuple[float, dict]:
    cmd = run_command(dataset, root) + ["--set", f"pipeline.metadata={metadata}"]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"the run on {root} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return wall, _summary(root, env)


def _summary(root: str, env: dict) -> dict:
    code = ("import json,sys; from pipeline import fs; r=sys.argv[1]; "
            "i=fs.open_file(fs.join(r,'runs','latest')).read().strip(); "
            "print(fs.open_file(fs.join(r,'runs',i,'summary.json')).read())")
    out = subprocess.run([sys.executable, "-c", code, root], cwd=REPO, env=env, capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--repeat", type=int, default=1, help="alternating local/gs:// pairs")
    args = parser.parse_args()
    from ops import gcs
    work = tempfile.mkdtemp(prefix="bench_gcs_", dir=os.path.join(REPO, "build"))
    store = gcs.up(os.path.join(work, "store"), buckets=("bench",))
    ticks, results = cpu_ticks(), {"local": [], "gs": []}
    try:
        base = dict(os.environ)
        for n in range(args.repeat):
            for where in ("local", "gs"):
                root = os.path.join(work, f"local-{n}") if where == "local" else f"gs://bench/root-{n}"
                env = base if where == "local" else {**base, **store.env()}
                results[where].append(_run(root, os.path.join(work, f"{where}-{n}.sqlite"), env, args.dataset))
        server_mb = _rss_mb(store.server_pid)
    finally:
        gcs.down(store.home)
        shutil.rmtree(work, ignore_errors=True)
    print(f"\npipeline root on gs:// (local object store) against a local folder: {args.dataset}, 1 epoch, cold, "
          f"direct runner; {cpu_flags()}; {stolen(ticks)}")
    print(f"  {'step':<16}" + "".join(f"{w + ' ' + str(i):>10}" for w in results for i in range(args.repeat))
          + f"{'gs/local':>10}")
    for step in ("wall",) + STEPS:
        row = {w: [(wall if step == "wall" else s["components"][step].get("seconds", 0.0)) for wall, s in runs]
               for w, runs in results.items()}
        ratio = sum(row["gs"]) / max(sum(row["local"]), 1e-9)
        print(f"  {step:<16}" + "".join(f"{v:10.1f}" for w in row for v in row[w]) + f"{ratio:9.2f}x")
        if step == "wall":
            record("gcs.py", f"the e2e run with a gs:// root against a local one: {ratio:.2f}x "
                   f"({sum(row['gs']):.1f} against {sum(row['local']):.1f} s)", "none set")
    accuracy = {w: [s["metrics"]["accuracy"] for _, s in runs] for w, runs in results.items()}
    print(f"  test accuracy: {accuracy}; the object store server's memory at the end: {server_mb:.0f} MB "
          "(its objects live in memory)")


if __name__ == "__main__":
    main()
