"""One cold run of the pipeline for bench/pods.py (in-process or on the pods), sampled while it runs, and
the phases of its Beam steps read from the pods' logs.

    python bench/pods.py     # uses these
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from bench.flink import _rss_mb  # noqa: E402

UNITS = {"B": 1e-9, "kB": 1e-6, "KB": 1e-6, "KiB": 2 ** 10 / 1e9, "MB": 1e-3, "MiB": 2 ** 20 / 1e9, "GB": 1.0,
         "GiB": 2 ** 30 / 1e9}


def _gb(text: str) -> float:
    num = text.rstrip("".join(sorted({c for u in UNITS for c in u})))
    return float(num) * UNITS[text[len(num):]]


class Sampler(threading.Thread):
    """The driver's peak RSS, and the peak of every container's memory summed (podman stats, every 2 s)."""

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


def _flags(root: str, runner: str, dataset: str, metadata: str, extra: tuple) -> list[str]:
    """The bench's run: 1 epoch, float32, no augmentation, batch 256, on that runner, root and store."""
    return ["--runner", runner, "--set", f"data.dataset={dataset}", "--set", "trainer.epochs=1",
            "--set", f"pipeline.root={root}", "--set", f"pipeline.metadata={metadata}", "--set", "trainer.batch_size=256",
            "--set", "trainer.augment=none", "--set", "trainer.precision=float32", *extra]


def run(root: str, runner: str, dataset: str, env: dict, metadata: str, sample_pods: bool = False,
        extra: tuple = ()) -> dict:
    """A cold run (1 epoch, float32, no augmentation): wall, each step's seconds and records, peaks."""
    from pipeline import artifacts as af
    cmd = [sys.executable, "-m", "pipeline", "run", "--no-cache", *_flags(root, runner, dataset, metadata, extra)]
    since = time.strftime("%Y-%m-%dT%H:%M:%S")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    sampler = Sampler(proc.pid, env, sample_pods)
    sampler.start()
    out, err = proc.communicate()
    sampler.stop.set()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"{runner} run failed:\n{err[-3000:]}")
    run_id = [line.split()[1].rstrip(":") for line in out.splitlines() if line.startswith("run ")][-1]
    summary = af.read_json(f"{root}/runs/{run_id}/summary.json")
    facts = {n: c.get("facts", {}) for n, c in summary["components"].items()}
    every = facts["ingest"].get("records_read", 0)
    return {"wall": time.perf_counter() - start, "steps": {n: c["seconds"] for n, c in summary["components"].items()},
            "peak": sampler.peak, "accuracy": summary["metrics"]["accuracy"], "run_id": run_id, "since": since,
            "metadata": metadata, "records": {"ingest": every, "statistics": every, "transform": every,
                                              "evaluator": summary["metrics"]["examples"]}}


def _logs(container: str, env: dict, path: str) -> None:
    """A container's log with podman's timestamp on every line, in the form bench/flink_phases.py reads
    (the job server in the pod logs without one of its own)."""
    import re
    proc = subprocess.run(["podman", "logs", "--timestamps", container], env=env, capture_output=True, text=True)
    stamp = re.compile(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)\.(\d{3})\d*Z ", re.M)
    with open(path, "w") as f:
        f.write(stamp.sub(r"\1 \2,\3 ", proc.stdout + proc.stderr))


def pods_phases(result: dict, env: dict, tmp: str) -> dict:
    """bench/flink_phases.py's phases of a pods run, from its containers' logs (the job server's, the
    JobManager's, each sidecar's) and the pods' REST API."""
    from bench.flink_phases import phases, steps_of
    from ops import cluster
    home = os.path.join(tmp, f"logs-{result['run_id']}")
    os.makedirs(os.path.join(home, "log"), exist_ok=True)
    _logs("flink-jobmanager-beam-job-server", env, os.path.join(home, "log", "jobserver.out"))
    _logs("flink-jobmanager-jobmanager", env, os.path.join(home, "log", "jobmanager.out"))
    for pod in cluster.pod_names():
        if "taskmanager" in pod:
            _logs(f"{pod}-beam-worker-pool", env, os.path.join(home, "log", f"worker-pool-{pod}.log"))
    run_id, steps = steps_of(result["metadata"], result["run_id"])
    return phases(run_id, steps, home, cluster.REST_PORT)


def sidecar_starts(cluster, env: dict, since: str) -> int:
    """SDK workers the two sidecars handed out since then (one log line each)."""
    return sum(subprocess.run(["podman", "logs", "--since", since, f"{p}-beam-worker-pool"], env=env,
                              capture_output=True, text=True).stderr.count("-> warm process")
               for p in cluster.pod_names() if "taskmanager" in p)


GROUPS = (("beam-worker-pool", "SDK workers"), ("taskmanager", "TaskManagers"), ("jobmanager", "JobManager pod"),
          ("objstore", "object store"))


def container_cpu(env: dict) -> dict[str, float]:
    """CPU seconds each group of the pods' containers has used so far (podman stats' CPUNano)."""
    out = subprocess.run(["podman", "stats", "--no-stream", "--format", "{{.Name}} {{.CPUNano}}"], env=env,
                         capture_output=True, text=True).stdout.split("\n")
    used = {label: 0.0 for _, label in GROUPS}
    for line in filter(None, out):
        name, nano = line.rsplit(" ", 1)
        label = next((lab for key, lab in GROUPS if key in name), None)
        if label:
            used[label] += int(nano) / 1e9
    return used


def run_as_tasks(root: str, runner: str, dataset: str, env: dict, metadata: str, steps: tuple, extra: tuple = ()) -> dict:
    """A cold run as an orchestrator's tasks (`begin`, then `step` after step; docs/orchestration.md), so
    each Beam step runs alone: `run` puts statistics beside transform, which would share the cores a
    scale-out measure counts. Only `steps` run (no finish). Same dict as run()."""
    from pipeline import artifacts as af
    flags = _flags(root, runner, dataset, metadata, extra)
    since = time.strftime("%Y-%m-%dT%H:%M:%S")
    start = time.perf_counter()

    def cli(*args):
        done = subprocess.run([sys.executable, "-m", "pipeline", *args, *flags], cwd=REPO, env=env,
                              capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{' '.join(args[:2])} on {runner} failed:\n{done.stderr[-3000:]}")
        return done.stdout
    run_id = cli("begin").strip().splitlines()[-1]
    cpu = {}
    for step in steps:   # each step's CPU seconds by where they were spent: the driver, then the pods' groups
        before, driver, started = container_cpu(env), resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        cli("step", step, "--run-id", run_id)
        after, done = container_cpu(env), resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[step] = {"wall": time.perf_counter() - started,
                     "driver": done.ru_utime + done.ru_stime - driver.ru_utime - driver.ru_stime,
                     **{k: after[k] - before[k] for k in after}}
    summary = af.read_json(f"{root}/runs/{run_id}/summary.json")
    facts = {n: c.get("facts", {}) for n, c in summary["components"].items()}
    every = facts["ingest"].get("records_read", 0)
    return {"wall": time.perf_counter() - start, "steps": {n: c["seconds"] for n, c in summary["components"].items()},
            "run_id": run_id, "since": since, "metadata": metadata, "root": root, "cpu": cpu,
            "records": {"ingest": every, "statistics": every, "transform": every,
                        "evaluator": facts.get("evaluator", {}).get("examples", 0)}}
