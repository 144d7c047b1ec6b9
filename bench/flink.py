"""The same cold run (Fashion-MNIST 70k, 1 epoch, nothing cached) with the Beam steps on the in-process
runner and on the local Flink cluster: wall per Beam step, the peak memory of the driver, the JobManager,
the TaskManager, Beam's job server and the SDK workers (RSS sampled every 0.5 s from /proc), and how many SDK
workers the run's worker pool started (its log: Beam's pool logs each fork, ours each hand-over).

    make flink-up && python bench/flink.py          # make bench-flink does both (and stops what it started)
"""
from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from bench.harness import cpu_flags, cpu_ticks, record, stolen, verdict  # noqa: E402

BEAM_STEPS = ("ingest", "statistics", "transform", "evaluator")




def _rss_mb(pid: int) -> float:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _workers() -> list[int]:
    pids = []
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            text = open(path, "rb").read()
        except OSError:
            continue
        if b"worker_pool_main" in text or b"sdk_worker_main" in text or b"ops.worker_pool" in text:
            pids.append(int(path.split("/")[2]))
    return pids


class Sampler(threading.Thread):
    """Peak RSS (MB) per role; 'workers' is the peak of their sum at one instant."""

    def __init__(self, roles: dict[str, int]):
        super().__init__(daemon=True)
        self.roles, self.peak, self.stop = roles, {r: 0.0 for r in list(roles) + ["workers"]}, threading.Event()

    def run(self):
        while not self.stop.is_set():
            for role, pid in self.roles.items():
                self.peak[role] = max(self.peak[role], _rss_mb(pid))
            self.peak["workers"] = max(self.peak["workers"], sum(_rss_mb(p) for p in _workers()))
            time.sleep(0.5)


def run(root: str, runner: str, dataset: str, cluster_pids: dict) -> dict:
    import json
    cmd = [sys.executable, "-m", "pipeline", "run", "--no-cache", "--runner", runner, "--set", f"data.dataset={dataset}",
           "--set", "trainer.epochs=1", "--set", f"pipeline.root={root}", "--set", "trainer.batch_size=256",
           "--set", "trainer.augment=none", "--set", "trainer.precision=float32"]   # as measured before
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = Sampler({"driver": proc.pid, **cluster_pids})
    sampler.start()
    out, err = proc.communicate()
    sampler.stop.set()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"{runner} run failed:\n{err[-3000:]}")
    summary = json.load(open(os.path.join(root, "runs", open(os.path.join(root, "runs", "latest")).read(),
                                          "summary.json")))
    return {"wall": time.perf_counter() - start, "steps": {n: c["seconds"] for n, c in summary["components"].items()},
            "peak": sampler.peak, "accuracy": summary["metrics"]["accuracy"], "run_id": summary["run_id"]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="fashion_mnist")
    args = parser.parse_args()
    from cli.config import load_config
    from ops import flink
    section = load_config(os.path.join(REPO, "pipeline.yaml")).flink
    started = len(flink.running(section)) < len(flink.PROCESSES)
    pids = flink.up(section)
    tmp = tempfile.mkdtemp(prefix="bench_flink_", dir=os.path.join(REPO, "build"))
    pool_log = os.path.join(section.home, "log", "worker-pool-50000.log")
    ticks = cpu_ticks()
    try:
        direct = run(os.path.join(tmp, "direct"), "direct", args.dataset, {})
        seen = os.path.getsize(pool_log) if os.path.exists(pool_log) else 0
        on_flink = run(os.path.join(tmp, "flink"), "flink", args.dataset, pids)
        with open(pool_log, errors="replace") as f:
            f.seek(seen)
            text = f.read()
        starts = text.count("Starting worker with command") + text.count("-> warm process")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if started:
            flink.down(section)
    print(f"\nBeam steps on Flink vs in-process ({args.dataset}, 1 epoch, cold) on {cpu_flags()}; {stolen(ticks)}")
    print(f"  {'step':<11}{'direct s':>10}{'flink s':>10}{'ratio':>8}")
    order = ("ingest", "statistics", "validator", "transform", "trainer", "evaluator", "infra_validator", "pusher",
             "report")
    for step in sorted(direct["steps"], key=lambda s: order.index(s) if s in order else len(order)):
        d, f = direct["steps"][step], on_flink["steps"][step]
        mark = " (Beam)" if step in BEAM_STEPS else ""
        print(f"  {step:<11}{d:>10.1f}{f:>10.1f}{(f / d if d > 0.05 else float('nan')):>8.2f}{mark}")
    ratio = on_flink['wall'] / direct['wall']
    print(f"  {'whole run':<11}{direct['wall']:>10.1f}{on_flink['wall']:>10.1f}{ratio:>8.2f}")
    record("flink.py", f"{args.dataset}, 1 epoch, cold: the whole run on the local Flink cluster {ratio:.2f}x in-process "
           f"({on_flink['wall']:.1f} against {direct['wall']:.1f} s)", verdict("<= 1.5", ratio))
    print(f"  accuracy: direct {direct['accuracy']:.4f}, flink {on_flink['accuracy']:.4f} (flink run {on_flink['run_id']})")
    print(f"  SDK workers started by the run's worker pool: {starts}")
    print("  peak RSS (GB): direct driver {:.2f}; flink: driver {:.2f}, JobManager {:.2f}, TaskManager {:.2f}, "
          "job server {:.2f}, SDK workers (sum) {:.2f}".format(
              direct["peak"]["driver"] / 1024, *(on_flink["peak"][r] / 1024 for r in
                                                  ("driver", "jobmanager", "taskmanager", "jobserver", "workers"))))


if __name__ == "__main__":
    main()
