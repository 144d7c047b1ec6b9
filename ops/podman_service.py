"""podman's Docker-compatible API on a socket of our own: Beam's Flink runner starts SDK worker containers with
the `docker` command, which reaches podman through DOCKER_HOST. Started and stopped by the PID recorded in
<worker.home>/pids.json, never by name.

    python -m pipeline worker up | down | status      # make worker-up / worker-down
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import time

from ops import worker_image
from ops.worker_image import ImageError

log = logging.getLogger(__name__)
MARKER = "system service"   # a recorded PID is ours only while its command line still says this


def socket_path(section) -> str:
    return os.path.join(worker_image.home(section), "podman.sock")


def docker_env(section) -> dict:
    """What a process that runs `docker` for our workers needs: podman's socket, and podman's config for a
    `docker` that is podman itself (Debian's podman-docker)."""
    env = worker_image.podman_env(section)
    return {"DOCKER_HOST": f"unix://{socket_path(section)}", "CONTAINERS_CONF": env["CONTAINERS_CONF"]}


def taskmanager_env(section) -> dict:
    """What `make flink-up` gives the TaskManager: nothing when you have a Docker engine (DOCKER_HOST, or
    Docker's own socket), else our podman socket."""
    if os.environ.get("DOCKER_HOST") or os.path.exists("/var/run/docker.sock"):
        return {}
    return docker_env(section)


def _pids_path(section) -> str:
    return os.path.join(worker_image.home(section), "pids.json")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return MARKER.replace(" ", "\0").encode() in f.read()
    except OSError:
        return False


def running(section) -> int | None:
    path = _pids_path(section)
    pid = json.load(open(path)).get("podman") if os.path.exists(path) else None
    return pid if pid and _alive(pid) else None


def _answers(path: str) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(2.0)
        try:
            s.connect(path)
            s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b"OK" in s.recv(4096)
        except OSError:
            return False


def up(section) -> int:
    """Start the service unless it runs; return its PID once the socket answers /_ping."""
    pid = running(section)
    if pid:
        return pid
    worker_image.podman(section, "--version")   # a clear error when podman is missing
    sock, log_path = socket_path(section), os.path.join(worker_image.home(section), "podman-service.log")
    if os.path.exists(sock):
        os.remove(sock)
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{sock}"],
                                env=worker_image.podman_env(section), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    with open(_pids_path(section), "w") as f:
        json.dump({"podman": proc.pid}, f)
    deadline = time.monotonic() + section.start_timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ImageError(f"podman system service exited with code {proc.returncode}; see {log_path}")
        if _answers(sock):
            log.info("podman service on %s (pid %d)", sock, proc.pid)
            return proc.pid
        time.sleep(0.3)
    down(section)
    raise ImageError(f"podman's socket {sock} did not answer within {section.start_timeout_s:.0f} s; see {log_path}")


def down(section, grace_s: float = 15.0) -> int | None:
    pid = running(section)
    if pid:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    for path in (_pids_path(section), socket_path(section)):
        if os.path.exists(path):
            os.remove(path)
    return pid


def status(section) -> str:
    pid = running(section)
    sock = socket_path(section)
    lines = [f"podman service {'running, pid %d' % pid if pid else 'not running'}; DOCKER_HOST=unix://{sock}"]
    try:
        names = worker_image.images(section)
        lines.append(f"{section.image}: {'built' if section.image in names else 'not built (make worker-image)'}")
    except ImageError as e:
        lines.append(str(e))
    return "\n".join(lines)


def _taskmanager_env(cfg) -> dict | None:
    """The local TaskManager's environment (it runs Beam's `docker` commands), or None when unknown."""
    from ops import flink
    pid = flink.running(cfg.flink).get("taskmanager")
    try:
        raw = open(f"/proc/{pid}/environ", "rb").read() if pid else None
    except OSError:
        return None
    return dict(kv.split("=", 1) for kv in raw.decode(errors="replace").split("\0") if "=" in kv) if raw else None


def preflight(cfg, beam_args) -> None:
    """Before a DOCKER-environment run on the local Flink cluster: the image is built, podman's socket answers,
    the TaskManager talks to it, and the pipeline root is a folder the containers share. One line each."""
    from pipeline import fs
    image = local_docker_image(beam_args)
    if image is None:
        return   # not DOCKER, or another cluster's workers on its own Docker hosts
    section = cfg.worker
    tm_env = _taskmanager_env(cfg)
    host = (tm_env or {}).get("DOCKER_HOST") or os.environ.get("DOCKER_HOST", "")
    if host == f"unix://{socket_path(section)}" and not running(section):
        raise ImageError("podman's service is not running: start it with `make worker-up` (python -m pipeline "
                         "worker up)")
    if tm_env is not None and "DOCKER_HOST" not in tm_env and not os.path.exists("/var/run/docker.sock"):
        raise ImageError("the Flink TaskManager was started without DOCKER_HOST, so Beam's `docker` reaches no "
                         "engine: restart the cluster with `make flink-down flink-up`")
    if host == f"unix://{socket_path(section)}" and worker_image.podman(
            section, "image", "exists", image, check=False).returncode != 0:
        raise ImageError(f"the worker image {image} is not in podman's store: build it with `make worker-image`")
    root = cfg.pipeline.root
    if not fs.is_remote(root):
        real = os.path.realpath(root)
        if not any(real == p or real.startswith(p + os.sep) for p in worker_image.shared_paths(section)):
            raise ImageError(f"pipeline.root {root} is not under a folder the worker containers share "
                             f"(worker.shared_paths: {', '.join(worker_image.shared_paths(section))})")


def local_docker_image(beam_args) -> str | None:
    """The image of a DOCKER-environment run on a Flink master on this machine, else None."""
    from ops.workers import LOOPBACK, flag
    master = (flag(beam_args, "flink_master") or "").split("://")[-1].rsplit(":", 1)[0]
    if flag(beam_args, "environment_type", "").upper() != "DOCKER" or master not in LOOPBACK:
        return None
    return flag(beam_args, "environment_config", "")


@contextlib.contextmanager
def sweeper(cfg, beam_args):
    """Beam removes the containers it started, but not one whose `docker run` failed after creating it: remove
    what the run's image left behind, not running, created since the run began."""
    image = local_docker_image(beam_args) if running(cfg.worker) else None   # ours to sweep: via our socket
    since = time.time()
    try:
        yield
    finally:
        if image:
            for cid in leftovers(cfg.worker, image, since):
                worker_image.podman(cfg.worker, "rm", "-f", cid, check=False)
                log.info("removed container %s that did not start", cid[:12])


def leftovers(section, image: str, since: float = 0.0) -> list[str]:
    """IDs of stopped or never-started containers of the image, created at or after `since` (epoch s)."""
    out = worker_image.podman(section, "ps", "-a", "--filter", f"ancestor={image}", "--format", "json").stdout
    return [c["Id"] for c in json.loads(out or "[]")
            if c.get("State") != "running" and c.get("Created", 0) >= int(since)]
