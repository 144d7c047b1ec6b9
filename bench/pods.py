"""The same cold run (Fashion-MNIST 70k, 1 epoch, nothing cached) in-process and on the Flink cluster in pods
(k8s/flink.yaml, a gs:// root on the object store pod): wall per step, the driver's peak RSS, the peak of the
summed memory of every container of the pods (podman stats, sampled every 2 s), and how many SDK workers the
sidecars started (their logs: one line per hand-over).

    make cluster-up && python bench/pods.py      # make bench-pods (brings the cluster up and down if it was not up)
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from bench.flink import BEAM_STEPS, _rss_mb  # noqa: E402
from bench.harness import cpu_flags, cpu_ticks, stolen  # noqa: E402

UNITS = {"B": 1e-9, "kB": 1e-6, "KB": 1e-6, "KiB": 2 ** 10 / 1e9, "MB": 1e-3, "MiB": 2 ** 20 / 1e9, "GB": 1.0,
         "GiB": 2 ** 30 / 1e9}


def _gb(text: str) -> float:
    num = text.rstrip("".join(sorted({c for u in UNITS for c in u})))
    return float(num) * UNITS[text[len(num):]]


class Sampler(threading.Thread):
    def __init__(self, driver: int, env: dict, pods: bool):
        super().__init__(daemon=True)
        self.driver, self.env, self.pods = driver, env, pods
        self.peak = {"driver": 0.0, "containers": 0.0}
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak["driver"] = max(self.peak["driver"], _rss_mb(self.driver) / 1024)
            if self.pods:
                out = subprocess.run(["podman", "stats", "--no-stream", "--format", "{{.MemUsage}}"], env=self.env,
                                     capture_output=True, text=True).stdout.split("\n")
                total = sum(_gb(line.split("/")[0].strip()) for line in out if "/" in line)
                self.peak["containers"] = max(self.peak["containers"], total)
            time.sleep(2.0)


def run(root: str, runner: str, dataset: str, env: dict, metadata: str) -> dict:
    from pipeline import artifacts as af
    cmd = [sys.executable, "-m", "pipeline", "run", "--no-cache", "--runner", runner, "--set", f"data.dataset={dataset}",
           "--set", "trainer.epochs=1", "--set", f"pipeline.root={root}", "--set", f"pipeline.metadata={metadata}",
           "--set", "trainer.batch_size=256", "--set", "trainer.augment=none", "--set", "trainer.precision=float32"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    sampler = Sampler(proc.pid, env, runner == "flink-pods")
    sampler.start()
    out, err = proc.communicate()
    sampler.stop.set()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"{runner} run failed:\n{err[-3000:]}")
    run_id = [line.split()[1].rstrip(":") for line in out.splitlines() if line.startswith("run ")][-1]
    summary = af.read_json(f"{root}/runs/{run_id}/summary.json")
    return {"wall": time.perf_counter() - start, "steps": {n: c["seconds"] for n, c in summary["components"].items()},
            "peak": sampler.peak, "accuracy": summary["metrics"]["accuracy"], "run_id": run_id}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="fashion_mnist")
    args = parser.parse_args()
    from cli.config import load_config
    from ops import cluster
    from ops.worker_image import podman_env
    cfg = load_config(os.path.join(REPO, "pipeline.yaml"))
    started = not cluster.status_overview(cfg)
    if started:
        cluster.up(cfg)
    env = {**os.environ, **podman_env(cfg.worker), **cluster.env()}
    os.environ.update(cluster.env())   # this process reads the pods' summaries from the bucket too
    tmp = tempfile.mkdtemp(prefix="bench_pods_", dir=os.path.join(REPO, "build"))
    since = time.strftime("%Y-%m-%dT%H:%M:%S")
    ticks = cpu_ticks()
    try:
        direct = run(os.path.join(tmp, "direct"), "direct", args.dataset, dict(os.environ), f"{tmp}/direct.sqlite")
        pods = run(f"gs://{cluster.BUCKET}/bench-{uuid.uuid4().hex[:8]}", "flink-pods", args.dataset, env,
                   f"{tmp}/pods.sqlite")
        starts = sum(subprocess.run(["podman", "logs", "--since", since, f"{p}-beam-worker-pool"], env=env,
                                    capture_output=True, text=True).stderr.count("-> warm process")
                     for p in cluster.pod_names() if "taskmanager" in p)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if started:
            cluster.down(cfg)
    print(f"\nBeam steps on the pod cluster vs in-process ({args.dataset}, 1 epoch, cold; pods on a gs:// root) "
          f"on {cpu_flags()}; {stolen(ticks)}")
    print(f"  {'step':<16}{'direct s':>10}{'pods s':>10}{'ratio':>8}")
    for step in direct["steps"]:
        d, p = direct["steps"][step], pods["steps"][step]
        mark = " (Beam)" if step in BEAM_STEPS else ""
        print(f"  {step:<16}{d:>10.1f}{p:>10.1f}{(p / d if d > 0.05 else float('nan')):>8.2f}{mark}")
    print(f"  {'whole run':<16}{direct['wall']:>10.1f}{pods['wall']:>10.1f}{pods['wall'] / direct['wall']:>8.2f}")
    print(f"  accuracy: direct {direct['accuracy']:.4f}, pods {pods['accuracy']:.4f}")
    print(f"  SDK workers handed out by the two sidecars: {starts}")
    print(f"  peak memory (GB): direct driver {direct['peak']['driver']:.2f}; pods: driver {pods['peak']['driver']:.2f}, "
          f"every container summed {pods['peak']['containers']:.2f}")


if __name__ == "__main__":
    main()
