"""Ship the project's code to Beam workers as a built wheel (never the driver's sys.path).

Local runners run in this process (or its children) and need nothing; every other runner gets
`--extra_package=<wheel>` unless the flags already name a --setup_file or --extra_package.
"""
from __future__ import annotations

import fcntl
import glob
import hashlib
import logging
import os
import subprocess
import sys
import tempfile

from pipeline.fingerprint import ROOT

log = logging.getLogger(__name__)
LOCAL_RUNNERS = {"fnapirunner", "directrunner", "bundlebaseddirectrunner", "switchingdirectrunner"}
SOURCES = ("pipeline", "components", "contract", "data", "modeling", "ops", "cli", "orchestration", "pyproject.toml")


def runner_of(beam_args: list[str]) -> str:
    for arg in beam_args:
        if arg.startswith("--runner="):
            return arg.split("=", 1)[1]
    return "DirectRunner"


def workers_are_local(beam_args) -> bool:
    """Beam's workers run in this process or its children, so they see the driver's files."""
    return runner_of(list(beam_args)).rsplit(".", 1)[-1].lower() in LOCAL_RUNNERS


def sources_digest() -> str:
    """sha256 over every file the wheel is built from (the whole package, not one component's closure)."""
    h = hashlib.sha256()
    for rel in SOURCES:
        full = os.path.join(ROOT, rel)
        files = [full] if os.path.isfile(full) else sorted(
            os.path.join(d, f) for d, _, names in os.walk(full) for f in names if f.endswith(".py"))
        for f in files:
            h.update(os.path.relpath(f, ROOT).encode() + b"\0")
            with open(f, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


def build_wheel(out_root: str) -> str:
    """Build (once per source digest) the project's wheel under out_root; return its path."""
    out_root = os.path.abspath(out_root)   # pip runs in the checkout: a relative -w would land there, not here
    out = os.path.join(out_root, sources_digest()[:16])
    os.makedirs(out_root, exist_ok=True)
    # One build at a time (setuptools shares the checkout's build/ folder): parallel runs wait, then reuse it.
    with open(os.path.join(out_root, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = glob.glob(os.path.join(out, "*.whl"))
        if found:
            return found[0]
        tmp = tempfile.mkdtemp(prefix=".building-", dir=out_root)
        cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", tmp, ROOT]
        subprocess.run(cmd, check=True, cwd=ROOT)
        os.rename(tmp, out)   # complete or absent: a killed build leaves only a .building- folder
    (wheel,) = glob.glob(os.path.join(out, "*.whl"))
    log.info("built %s for Beam workers", wheel)
    return wheel


def with_package(beam_args: list[str], out_root: str) -> list[str]:
    runner = runner_of(beam_args).rsplit(".", 1)[-1].lower()
    if runner in LOCAL_RUNNERS or any(a.startswith(("--setup_file", "--extra_package")) for a in beam_args):
        return list(beam_args)
    return list(beam_args) + [f"--extra_package={build_wheel(out_root)}"]
