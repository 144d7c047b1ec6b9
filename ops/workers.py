"""What a run on a portable runner (Flink, or Beam's own job service) needs around it: a check that the
cluster is there before anything starts, and the EXTERNAL worker pool that runs our Python code for the
run's Beam steps, started from the built wheel and stopped (with its workers) when the run ends.

    python -m pipeline run --runner flink      # the runner calls preflight() and WorkerPool itself
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from ops.flink import ClusterError, port_open
from pipeline import fs

log = logging.getLogger(__name__)
LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


def flag(beam_args, name: str, default=None):
    """The value of --name=VALUE; the last one wins, as in Beam's own parsing of repeated flags."""
    found = [a.split("=", 1)[1] for a in beam_args if a.startswith(f"--{name}=")]
    return found[-1] if found else default


def _hostport(value: str) -> tuple[str, int]:
    host, _, port = value.split("://", 1)[-1].rstrip("/").rpartition(":")
    return host, int(port)


def preflight(beam_args, timeout: float = 5.0) -> None:
    """Fail in seconds, with one line, when the Flink master or the job server is not there."""
    runner = (flag(beam_args, "runner") or "").rsplit(".", 1)[-1]
    master = flag(beam_args, "flink_master")
    how = "start the local cluster with `make flink-up` (python -m pipeline flink up)"
    if runner == "FlinkRunner" and master and not master.startswith("["):
        url = ("" if "://" in master else "http://") + master.rstrip("/") + "/overview"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                overview = json.load(r)
        except (OSError, ValueError) as e:
            raise ClusterError(f"the Flink master at {master} is not reachable ({getattr(e, 'reason', e)}): "
                               f"{how}, or point --flink_master at your cluster") from None
        if overview.get("taskmanagers", 0) < 1:
            raise ClusterError(f"the Flink master at {master} has no TaskManager: {how} (it starts missing ones)")
    endpoint = flag(beam_args, "job_endpoint")
    if runner in ("FlinkRunner", "PortableRunner") and endpoint and endpoint != "embed":
        host, port = _hostport(endpoint)
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as e:
            raise ClusterError(f"Beam's job server at {endpoint} is not reachable ({e.strerror or e}): {how}, "
                               f"or point --job_endpoint at yours") from None


def pool_port(beam_args, local_rest_port: int | None = None) -> int | None:
    """The loopback port of an EXTERNAL environment this machine must serve, else None. A Flink master
    other than this machine's own cluster (flink.rest_port) runs its TaskManagers elsewhere: their
    `localhost` is their pod's, where the pool is a sidecar (k8s/flink.yaml)."""
    if flag(beam_args, "environment_type", "").upper() != "EXTERNAL":
        return None
    master = flag(beam_args, "flink_master")
    if master and local_rest_port and not master.startswith("[") and _hostport(master)[1] != local_rest_port:
        return None
    host, port = _hostport(flag(beam_args, "environment_config", ""))
    return port if host in LOOPBACK else None


class WorkerPool:
    """The warm worker pool of ops/worker_pool.py on loopback, run from the wheel installed into its own
    folder (as in the worker image), never from this checkout: `processes` Pythons that imported TensorFlow
    once, each SDK worker a thread of one of them."""

    def __init__(self, port: int, wheel: str, home: str, processes: int = 2, start_timeout_s: float = 60.0):
        self.port, self.wheel, self.home, self.timeout = port, wheel, os.path.abspath(home), start_timeout_s
        self.processes = processes
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(self.home, "log", f"worker-pool-{port}.log")

    def _site(self) -> str:
        with open(self.wheel, "rb") as f:
            site = os.path.join(self.home, "sites", hashlib.file_digest(f, "sha256").hexdigest()[:16])
        if not os.path.exists(os.path.join(site, ".complete")):
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", site,
                            "--upgrade", self.wheel], check=True, capture_output=True)
            open(os.path.join(site, ".complete"), "w").close()
        return site

    def __enter__(self) -> "WorkerPool":
        if port_open(self.port):
            raise ClusterError(f"port {self.port} (--environment_config) is taken: stop what holds it, or name "
                               "another port")
        site, cwd = self._site(), os.path.join(self.home, "workdir")
        os.makedirs(cwd, exist_ok=True)
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        venv_bin = os.path.dirname(sys.executable)   # the pool starts each worker as a bare `python`
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(PATH=venv_bin + os.pathsep + env.get("PATH", ""), PYTHONPATH=site, TF_USE_LEGACY_KERAS="1",
                   TF_CPP_MIN_LOG_LEVEL="2")
        self.proc = subprocess.Popen([sys.executable, "-m", "ops.worker_pool", f"--port={self.port}",
                                      f"--processes={self.processes}", f"--die-with-parent={os.getpid()}"], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT,
                                     start_new_session=True)   # its own group: the workers it forks go with it
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            self.check()
            if port_open(self.port):
                log.info("worker pool on port %d (pid %d), code from %s", self.port, self.proc.pid, site)
                return self
            time.sleep(0.3)
        self.__exit__(None, None, None)
        raise ClusterError(f"the worker pool did not listen on port {self.port} within {self.timeout:.0f} s; "
                           f"see {self.log_path}")

    def check(self) -> None:
        """Raise if the pool has died (called while a Beam step waits for its job)."""
        code = self.proc.poll() if self.proc else None
        if code is not None:
            raise ClusterError(f"the Beam worker pool (pid {self.proc.pid}, port {self.port}) exited with code "
                               f"{code}; its log: {self.log_path}")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 30)):
                try:
                    os.killpg(self.proc.pid, sig)
                    self.proc.wait(timeout=wait)
                    break
                except (subprocess.TimeoutExpired, ProcessLookupError):
                    continue
        if self.proc:   # the SDK workers share the pool's group; make sure none outlives it
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def local_runner(beam_args) -> bool:
    from pipeline.packaging import LOCAL_RUNNERS, runner_of
    return runner_of(list(beam_args)).rsplit(".", 1)[-1].lower() in LOCAL_RUNNERS


def root_for_workers(cfg, beam_args):
    """Workers of a non-local runner do not share the driver's working folder: a relative local root
    (the default `pipeline_root`) is made absolute for them, as a remote root already is."""
    root = cfg.pipeline.root
    if local_runner(beam_args) or fs.is_remote(root) or os.path.isabs(root):
        return cfg
    return dataclasses.replace(cfg, pipeline=dataclasses.replace(cfg.pipeline, root=os.path.abspath(root)))


def worker_pool(cfg, beam_args):
    port = pool_port(beam_args, cfg.flink.rest_port)
    if port is None:
        return contextlib.nullcontext()
    from pipeline.packaging import build_wheel
    wheel = flag(beam_args, "extra_package") or build_wheel(os.path.join("build", "wheels"))
    # one warm process per SDK worker a TaskManager asks for at once (--sdk_worker_parallelism), at most a core each
    processes = min(os.cpu_count() or 1, max(1, int(flag(beam_args, "sdk_worker_parallelism", "1") or 1)))
    return WorkerPool(port, wheel, cfg.flink.home, processes)


def watchdog(beam_args, pool):
    """What a remote Beam step checks while it waits: the worker pool, and the Flink master if any."""
    master = flag(beam_args, "flink_master")
    if pool is None and not master:
        return None
    misses = {"master": 0, "taskmanager": 0}

    def check():
        if pool is not None:
            pool.check()
        if master and not master.startswith("["):
            try:
                preflight(["--runner=FlinkRunner", f"--flink_master={master}"])
                misses.update(master=0, taskmanager=0)
            except ClusterError as e:
                # An unreachable master for a few polls, not one slow answer. A lost TaskManager is Flink's to
                # report first (its tasks fail at once; restart-strategy none): only a job still waiting for
                # slots 30 s later is stopped here, with this message, before Flink's slot timeout.
                kind = "taskmanager" if "no TaskManager" in str(e) else "master"
                misses[kind] += 1
                if misses[kind] >= (30 if kind == "taskmanager" else 5):
                    raise
    return check

