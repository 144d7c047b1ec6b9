"""The Beam SDK worker image, built here with podman from registry packages only (no image registry):
Beam's `boot` built with Go at the pinned Beam version, wheels of requirements.lock and of this project, and a
Debian base made by debootstrap. docker/Dockerfile is the recipe; docs/container.md the story.

    python -m pipeline worker build        # or make worker-image; prints the image's size and build time
    python -m pipeline worker inputs       # only build/worker/{boot,wheels}: for `docker build` elsewhere
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time

from ops.flink import ClusterError
from pipeline.fingerprint import ROOT

log = logging.getLogger(__name__)
BOOT_MODULE = "github.com/apache/beam/sdks/v2/python/container"
# podman on these machines (STACK.md): runc, as crun fails on hybrid cgroups; ulimits within the hard limits.
CONTAINERS_CONF = """# Written by python -m pipeline worker; CONTAINERS_CONF points podman here.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
volumes = [{volumes}]
[engine]
runtime = "runc"
"""


class ImageError(ClusterError):
    """The worker image could not be built, or podman is not there."""


def home(section) -> str:
    return section.home if os.path.isabs(section.home) else os.path.join(ROOT, section.home)


def shared_paths(section) -> list[str]:
    return [os.path.realpath(p if os.path.isabs(p) else os.path.join(ROOT, p)) for p in section.shared_paths]


def podman_env(section) -> dict:
    """The environment every podman call (and the Flink TaskManager's docker calls) runs with."""
    h = home(section)
    os.makedirs(h, exist_ok=True)
    conf = os.path.join(h, "containers.conf")
    vols = ", ".join(f'"{p}:{p}"' for p in shared_paths(section))
    text = CONTAINERS_CONF.format(volumes=vols)
    if not os.path.exists(conf) or open(conf).read() != text:
        with open(conf + ".tmp", "w") as f:
            f.write(text)
        os.replace(conf + ".tmp", conf)
    return dict(os.environ, CONTAINERS_CONF=conf)


def podman(section, *args, check=True, capture=True) -> subprocess.CompletedProcess:
    if not shutil.which("podman"):
        raise ImageError("podman is not installed: apt-get install podman runc (docs/container.md)")
    proc = subprocess.run(["podman", *args], env=podman_env(section), text=True,
                          capture_output=capture)
    if check and proc.returncode != 0:
        raise ImageError(f"podman {' '.join(args[:2])} failed (exit {proc.returncode}): "
                         f"{(proc.stderr or '').strip()[-800:]}")
    return proc


def beam_version() -> str:
    from apache_beam.version import __version__
    return __version__


def _go() -> str:
    found = shutil.which("go") or ("/usr/local/go/bin/go" if os.path.exists("/usr/local/go/bin/go") else None)
    if not found:
        raise ImageError("Go is needed to build Beam's boot launcher (https://go.dev/dl, or golang-go >= 1.24)")
    return found


def build_boot(section) -> str:
    """Beam's boot for the Beam version installed here, built once per version (a static binary)."""
    version = beam_version()
    out = os.path.join(home(section), "boot")
    os.makedirs(home(section), exist_ok=True)
    stamp = out + ".version"
    if os.path.exists(out) and os.path.exists(stamp) and open(stamp).read() == version:
        return out
    with tempfile.TemporaryDirectory() as gobin:
        env = dict(os.environ, GOBIN=gobin, CGO_ENABLED="0", GOFLAGS="-buildvcs=false")
        proc = subprocess.run([_go(), "install", f"{BOOT_MODULE}@v{version}"], env=env, text=True,
                              capture_output=True)
        if proc.returncode != 0:
            raise ImageError(f"go install {BOOT_MODULE}@v{version} failed: {proc.stderr.strip()[-800:]}")
        shutil.move(os.path.join(gobin, "container"), out + ".tmp")
    os.replace(out + ".tmp", out)
    with open(stamp, "w") as f:
        f.write(version)
    log.info("built Beam %s boot: %s", version, out)
    return out


def build_wheels(section) -> str:
    """Wheels of every pin in requirements.lock, the runtime lock (once per lock digest), in wheels/, each
    download checked against the lock's sha256; this project's wheel in project/. The development lock
    (pytest, ruff, py-spy) never goes into the image."""
    from pipeline.packaging import build_wheel
    wheels = os.path.join(home(section), "wheels")
    lock = os.path.join(ROOT, "requirements.lock")
    pins = open(lock).read()
    digest = hashlib.sha256(pins.encode()).hexdigest()
    stamp = os.path.join(wheels, ".lock-sha256")
    if not (os.path.exists(stamp) and open(stamp).read() == digest):
        shutil.rmtree(wheels, ignore_errors=True)
        tmp = wheels + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--require-hashes", "-r", lock,
                               "-w", tmp], text=True, capture_output=True)
        if proc.returncode != 0:
            raise ImageError(f"pip wheel -r requirements.lock failed: {proc.stderr.strip()[-800:]}")
        # The image installs these very wheels offline (docker/Dockerfile): a wheel pip built here from a checked
        # sdist has no hash on PyPI, so its copy of the lock keeps the pins and leaves the hashes out.
        with open(os.path.join(tmp, "requirements.lock"), "w") as f:
            f.write("".join(f"{ln.split()[0]}\n" for ln in pins.splitlines() if "==" in ln))
        with open(os.path.join(tmp, ".lock-sha256"), "w") as f:
            f.write(digest)
        os.replace(tmp, wheels)
    project = os.path.join(home(section), "project")
    shutil.rmtree(project, ignore_errors=True)
    os.makedirs(project)
    shutil.copy(build_wheel(os.path.join(ROOT, "build", "wheels")), project)
    return wheels


def build_base(section) -> None:
    """A localhost/ base image from debootstrap (Debian 12 minbase), once; other bases are pulled by podman."""
    if podman(section, "image", "exists", section.base, check=False).returncode == 0:
        return
    if not section.base.startswith("localhost/"):
        return   # a public base (python:3.11-slim-bookworm): podman build pulls it where a registry is reachable
    if not shutil.which("debootstrap"):
        raise ImageError("debootstrap is not installed: apt-get install debootstrap (docs/container.md)")
    with tempfile.TemporaryDirectory(dir=home(section)) as tmp:
        rootfs = os.path.join(tmp, "rootfs")
        proc = subprocess.run(["debootstrap", "--variant=minbase", "bookworm", rootfs, section.debian_mirror],
                              text=True, capture_output=True)
        if proc.returncode != 0:
            raise ImageError(f"debootstrap failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}")
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(["podman", "import", "-", section.base], stdin=tar.stdout, env=podman_env(section),
                             capture_output=True, text=True)
        tar.wait()
        if imp.returncode != 0 or tar.returncode != 0:
            raise ImageError(f"podman import of the debootstrap tree failed: {imp.stderr.strip()[-800:]}")
    log.info("made base image %s with debootstrap", section.base)


def inputs(section) -> tuple[str, str]:
    return build_boot(section), build_wheels(section)


def build(section) -> dict:
    """Build the worker image; return its name, size in bytes and build seconds."""
    start = time.monotonic()
    inputs(section)
    build_base(section)
    old = podman(section, "image", "inspect", "--format", "{{.Id}}", section.image, check=False).stdout.strip()
    log_path = os.path.join(home(section), "build.log")
    cmd = ["podman", "build", "--build-arg", f"BASE={section.base}", "-f", "docker/Dockerfile", "-t",
           section.image, "--layers", ROOT]
    with open(log_path, "w") as out:   # podman's whole output to the log; its STEP lines to the console
        proc = subprocess.Popen(cmd, env=podman_env(section), cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            out.write(line)
            if line.startswith("STEP "):
                print(line.rstrip()[:110], flush=True)
        proc.wait()
    if proc.returncode != 0:
        raise ImageError(f"podman build of {section.image} failed (exit {proc.returncode}); see {log_path}")
    new, size = podman(section, "image", "inspect", "--format", "{{.Id}} {{.Size}}", section.image).stdout.split()
    if old and old != new:   # the previous build, now untagged: 3-4 GB each on this disk
        podman(section, "rmi", old, check=False)
    size = int(size)
    return {"image": section.image, "size_bytes": size, "seconds": round(time.monotonic() - start, 1)}


def images(section) -> list[str]:
    out = podman(section, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    return [line for line in out.splitlines() if line]

