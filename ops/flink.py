"""A local Apache Flink session cluster plus Beam's Flink job server: three JVMs on loopback, started and
stopped by the PIDs recorded in <flink.home>/pids.json, never by name.

    python -m pipeline flink up | down | status | fetch      # or make flink-up / flink-down / flink-status
"""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

from contract.errors import PipelineError
from ops import flink_dist
from ops.procs import alive

log = logging.getLogger(__name__)
# name -> (what its command line must contain: a recorded PID is ours only if it still runs this)
PROCESSES = {"jobmanager": "StandaloneSessionClusterEntrypoint", "taskmanager": "TaskManagerRunner",
             "jobserver": flink_dist.LOOPBACK_MAIN}


class ClusterError(PipelineError, RuntimeError):
    """The cluster could not be started, or is not there when a run needs it."""


def _paths(section) -> dict:
    home = os.path.abspath(section.home)
    return {"home": home, "conf": os.path.join(home, "conf"), "log": os.path.join(home, "log"),
            "pids": os.path.join(home, "pids.json"), "artifacts": os.path.join(home, "artifacts")}


def _java_opts(flink_home: str) -> str:
    """The --add-opens/--add-exports flags of Flink's own config: without them, on Java 17, a failing task's
    error handling itself fails (InaccessibleObjectException) and takes the TaskManager down."""
    import yaml
    with open(os.path.join(flink_home, "conf", "config.yaml")) as f:
        shipped = yaml.safe_load(f)
    return shipped["env"]["java"]["opts"]["all"]


def _conf_text(section, flink_home: str) -> str:
    """Flink's config.yaml: loopback only, our ports and sizes, and choices a Beam batch job needs."""
    return f"""# Written by `python -m pipeline flink up` from pipeline.yaml's flink: section; edits are overwritten.
env.java.opts.all: {_java_opts(flink_home)}
jobmanager.bind-host: localhost
jobmanager.rpc.address: localhost
jobmanager.rpc.port: {section.rpc_port}
jobmanager.memory.process.size: {section.jobmanager_memory}
taskmanager.bind-host: localhost
taskmanager.host: localhost
taskmanager.numberOfTaskSlots: {section.task_slots}
taskmanager.memory.process.size: {section.taskmanager_memory}
# Beam's batch jobs deploy every stage at once; Flink's default 512 buffers per sort-shuffle partition ran
# out of network buffers on TFMA's graph ("Insufficient number of network buffers").
taskmanager.network.sort-shuffle.min-buffers: 64
taskmanager.memory.network.min: 256m
taskmanager.memory.network.max: 256m
# Beam's gRPC channels to the SDK workers use direct buffers: transform at 70k records ran out of the
# default (0) task off-heap memory ("OutOfMemoryError: Direct buffer memory").
taskmanager.memory.task.off-heap.size: 512m
taskmanager.memory.managed.fraction: 0.1
# half the slots: a job that names no --parallelism leaves room for the job of the step beside it
parallelism.default: {max(1, section.task_slots // 2)}
rest.address: localhost
rest.bind-address: localhost
rest.port: {section.rest_port}
# One TaskManager: a lost one cannot be replaced, so a restart would only wait; fail the job at once and let
# the pipeline's cache make the rerun cheap (docs/flink.md "Faults").
restart-strategy.type: none
# An error in a TaskManager thread outside any task (an OutOfMemoryError in a gRPC thread) ends the
# TaskManager, and so the job, with that error; LOG (the default) left the job RUNNING with no CPU used.
cluster.uncaught-exception-handling: FAIL
heartbeat.interval: 2000
heartbeat.timeout: 15000
# A job whose TaskManager is gone before its tasks are deployed waits for slots: 60 s, not Flink's 300 s.
slot.request.timeout: 60000
"""


def _read_pids(section) -> dict:
    path = _paths(section)["pids"]
    return json.load(open(path)) if os.path.exists(path) else {}


def _write_pids(section, pids: dict) -> None:
    path = _paths(section)["pids"]
    with open(path + ".tmp", "w") as f:
        json.dump(pids, f, indent=1)
    os.replace(path + ".tmp", path)


def running(section) -> dict[str, int]:
    """The recorded processes that are still alive and still ours."""
    return {n: pid for n, pid in _read_pids(section).items() if n in PROCESSES and alive(pid, PROCESSES[n])}


def rest(section, path: str = "overview", timeout: float = 3.0) -> dict:
    with urllib.request.urlopen(f"http://localhost:{section.rest_port}/{path}", timeout=timeout) as r:
        return json.load(r)


def port_open(port: int) -> bool:
    """Something listens on this loopback port."""
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _commands(section, flink_home: str, job_server_lib: str) -> dict[str, list[str]]:
    p = _paths(section)
    return {"jobmanager": [os.path.join(flink_home, "bin", "jobmanager.sh"), "start-foreground"],
            "taskmanager": [os.path.join(flink_home, "bin", "taskmanager.sh"), "start-foreground"],
            # stage=none: the cluster has the runner's jars (flink_dist.cluster_lib), a job ships none; slf4j-simple
            # writes no time unless asked, and bench/flink_phases.py reads when each job was invoked
            "jobserver": ["java", "-Xmx512m", "-Dbeam.flink.stage=none", "-Dorg.slf4j.simpleLogger.showDateTime=true",
                          "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss,SSS", "-cp", flink_dist.loopback_jar(section.home, job_server_lib)
                          + os.pathsep + os.path.join(job_server_lib, "lib", "*"), flink_dist.LOOPBACK_MAIN,
                          f"--flink-master=localhost:{section.rest_port}", "--job-host=127.0.0.1",
                          f"--job-port={section.job_port}",
                          f"--artifact-port={section.artifact_port}", "--expansion-port=-1",
                          f"--artifacts-dir={p['artifacts']}", f"--flink-conf-dir={p['conf']}"]}


def up(section, extra_env: dict | None = None) -> dict[str, int]:
    """Start whatever of the three is not running (so `up` also heals a cluster that lost a process).
    extra_env reaches the TaskManager: DOCKER_HOST for the `docker` calls of Beam's DOCKER environment."""
    flink_home, job_server_lib = flink_dist.fetch(section.home)
    p = _paths(section)
    for d in (p["conf"], p["log"], p["artifacts"]):
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(p["conf"], "config.yaml"), "w") as f:
        f.write(_conf_text(section, flink_home))
    for name in ("log4j-console.properties", "log4j.properties", "logback-console.xml"):
        src = os.path.join(flink_home, "conf", name)
        if os.path.exists(src) and not os.path.exists(os.path.join(p["conf"], name)):
            with open(src) as a, open(os.path.join(p["conf"], name), "w") as b:
                b.write(a.read())
    env = dict(os.environ, **(extra_env or {}), FLINK_CONF_DIR=p["conf"], FLINK_LOG_DIR=p["log"],
               FLINK_PID_DIR=p["home"], FLINK_LIB_DIR=flink_dist.cluster_lib(section.home, flink_home, job_server_lib))
    pids, started = running(section), {}
    for name, cmd in _commands(section, flink_home, job_server_lib).items():
        if name in pids:
            continue
        if name == "jobserver" and port_open(section.job_port):
            raise ClusterError(f"port {section.job_port} is taken by another process: set flink.job_port")
        with open(os.path.join(p["log"], f"{name}.out"), "ab") as out:
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=p["home"], start_new_session=True)  # outlives this command
        pids[name], started[name] = proc.pid, proc   # the scripts exec the JVM: this PID becomes the JVM's
        _write_pids(section, pids)
        log.info("started %s (pid %d)", name, proc.pid)
    _wait_ready(section, started)
    return pids


def _wait_ready(section, started: dict) -> None:
    deadline, last = time.monotonic() + section.start_timeout_s, "nothing answered yet"
    while time.monotonic() < deadline:
        gone = sorted(n for n, proc in started.items() if proc.poll() is not None)
        if gone:
            raise ClusterError(f"{', '.join(gone)} exited during start; see {_paths(section)['log']}/")
        try:
            o = rest(section)
            last = f"{o['taskmanagers']} TaskManager(s), {o['slots-total']} slots"
            if o["taskmanagers"] >= 1 and o["slots-total"] >= section.task_slots and port_open(section.job_port):
                if len(running(section)) == len(PROCESSES):
                    return
        except (OSError, ValueError) as e:
            last = str(e)
        time.sleep(1)
    raise ClusterError(f"the cluster was not ready within {section.start_timeout_s:.0f} s ({last}); "
                       f"see {_paths(section)['log']}/")


def down(section, grace_s: float = 30.0) -> list[int]:
    """SIGTERM the recorded PIDs that are still ours, SIGKILL what is left after grace_s; return them."""
    pids = running(section)
    for pid in pids.values():
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(alive(pid, PROCESSES[n]) for n, pid in pids.items()):
        time.sleep(0.5)
    for name, pid in pids.items():
        if alive(pid, PROCESSES[name]):
            log.warning("%s (pid %d) ignored SIGTERM for %.0f s: SIGKILL", name, pid, grace_s)
            os.kill(pid, signal.SIGKILL)
    path = _paths(section)["pids"]
    if os.path.exists(path):
        os.remove(path)
    return sorted(pids.values())


def status(section) -> str:
    alive = running(section)
    lines = [f"{n:<12} {'running, pid %d' % alive[n] if n in alive else 'not running'}" for n in PROCESSES]
    try:
        o = rest(section)
        lines.append(f"Flink {o['flink-version']} at http://localhost:{section.rest_port}: {o['taskmanagers']} "
                     f"TaskManager(s), {o['slots-available']}/{o['slots-total']} slots free, "
                     f"{o['jobs-running']} running, {o['jobs-finished']} finished, {o['jobs-failed']} failed jobs")
    except OSError as e:
        lines.append(f"no Flink REST API at http://localhost:{section.rest_port} ({e})")
    lines.append(f"logs: {_paths(section)['log']}/")
    return "\n".join(lines)
