"""Processes we start and stop ourselves: by recorded PID, and only while that PID still runs our command."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time


def alive(pid: int, marker: str) -> bool:
    """pid runs and its command line contains marker (a recycled PID is not ours)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return marker.encode() in f.read()
    except OSError:
        return False


def free_port() -> int:
    """A loopback port free right now (the OS's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], log_path: str, cwd: str, env: dict | None = None) -> subprocess.Popen:
    """Start cmd in its own session (a Ctrl-C in the caller's terminal does not reach it), output to log_path."""
    with open(log_path, "ab") as out:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(pids: dict[int, str], grace_s: float = 10.0) -> list[int]:
    """SIGTERM each pid that is still ours ({pid: marker}), SIGKILL what is left after grace_s."""
    ours = {pid: mark for pid, mark in pids.items() if alive(pid, mark)}
    for pid in ours:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(alive(p, m) for p, m in ours.items()):
        time.sleep(0.1)
        _reap(ours)
    for pid, mark in ours.items():
        if alive(pid, mark):
            os.kill(pid, signal.SIGKILL)
    time.sleep(0.1)
    _reap(ours)
    return sorted(ours)


def _reap(pids) -> None:
    """Collect the exit status of those that are our own children, so none lingers as a zombie."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:   # not our child (started by another command): its parent reaps it
            pass
