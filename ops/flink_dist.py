"""Fetch, verify and assemble what a local Flink cluster runs: Flink's distribution (from PyPI) and Beam's
Flink job server (from Maven Central), into a git-ignored folder. Nothing is fetched at run time by Beam.

    python -m pipeline flink fetch        # idempotent; make flink-fetch
"""
from __future__ import annotations

import glob
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

from contract.errors import PipelineError
from pipeline.fingerprint import ROOT

log = logging.getLogger(__name__)
FLINK_VERSION = "1.19.3"          # Beam's runner for Flink 1.19 is the one Maven serves here (flink/pom.xml)
BEAM_JOB_SERVER = "2.70.0"        # flink/pom.xml: the runner's version (its job service is 2.65.0)
DIST_REQUIREMENTS = os.path.join(ROOT, "flink", "flink-dist.txt")
JOB_SERVER_POM = os.path.join(ROOT, "flink", "pom.xml")
JOB_SERVER_LOCK = os.path.join(ROOT, "flink", "jobserver.sha256")
LOOPBACK_SOURCE = os.path.join(ROOT, "flink", "LoopbackJobServer.java")   # binds --job-host only
LOOPBACK_MAIN = "LoopbackJobServer"
DONE = ".complete"                # written last: a folder without it is a half-finished fetch


class FetchError(PipelineError, RuntimeError):
    """A download failed or did not match its pinned sha256."""


def dist_dir(home: str) -> str:
    return os.path.join(home, f"flink-{FLINK_VERSION}")


def job_server_dir(home: str) -> str:
    return os.path.join(home, f"beam-flink-job-server-{BEAM_JOB_SERVER}")


def fetch(home: str) -> tuple[str, str]:
    """Make sure both pieces are in place under home; return (FLINK_HOME, job server lib folder)."""
    home = os.path.abspath(home)
    os.makedirs(home, exist_ok=True)
    return _ensure(dist_dir(home), _assemble_dist), _ensure(job_server_dir(home), _fetch_job_server)


def loopback_jar(home: str, job_server_lib: str) -> str:
    """flink/LoopbackJobServer.java compiled against the job server's jars into a jar (not a folder: the
    runner stages every classpath entry to Flink as a file), in a folder named by the source's digest (an
    edit compiles anew); javac and jar take about 3 s."""
    with open(LOOPBACK_SOURCE, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    classpath = os.path.join(job_server_lib, "lib", "*")

    def build(out: str) -> None:
        classes = os.path.join(out, "classes")
        _run(["javac", "-nowarn", "-cp", classpath, "-d", classes, LOOPBACK_SOURCE], "javac of " + LOOPBACK_SOURCE)
        _run(["jar", "--create", "--file", os.path.join(out, "loopback.jar"), "-C", classes, "."], "jar")
        shutil.rmtree(classes)
    return os.path.join(_ensure(os.path.join(os.path.abspath(home), f"loopback-{digest}"), build), "loopback.jar")


# Jobs carry no jars (flink/LoopbackJobServer.java, -Dbeam.flink.stage=none): the runner's jars are on the
# cluster's own classpath instead. Left out are those whose classes flink-dist already bundles, the same
# version or newer (a job server jar sorts ahead of flink-dist on Flink's classpath, and an older
# commons-io there would shadow Flink's): Flink's own modules, slf4j (Flink binds it to log4j), kryo and
# its helpers, lz4, and the commons libraries flink-dist holds whole. commons-lang3 stays: Beam's is newer.
PROVIDED_BY_FLINK = ("flink-", "slf4j-", "kryo-", "minlog-", "chill-java-", "lz4-java-", "objenesis-",
                     "commons-io-", "commons-text-", "commons-cli-", "commons-collections-", "commons-compress-",
                     "commons-math3-")


def cluster_lib(home: str, flink_home: str, job_server_lib: str) -> str:
    """FLINK_LIB_DIR for the JobManager and TaskManager: links to Flink's lib/ and to the Beam runner's jars
    (less PROVIDED_BY_FLINK), so the runner's classes load once per JVM instead of once per job. Measured
    with bench/flink_phases.py: docs/flink.md "Where a step's time goes"."""
    beam = sorted(n for n in os.listdir(os.path.join(job_server_lib, "lib"))
                  if n.endswith(".jar") and not n.startswith(PROVIDED_BY_FLINK))
    digest = hashlib.sha256("\n".join(beam).encode()).hexdigest()[:12]
    os.makedirs(home, exist_ok=True)

    def build(out: str) -> None:
        for folder, names in ((os.path.join(flink_home, "lib"), os.listdir(os.path.join(flink_home, "lib"))),
                              (os.path.join(job_server_lib, "lib"), beam)):
            for name in names:
                os.symlink(os.path.join(folder, name), os.path.join(out, name))
    return _ensure(os.path.join(os.path.abspath(home), f"cluster-lib-{digest}"), build)


def _ensure(target: str, build) -> str:
    if os.path.exists(os.path.join(target, DONE)):
        return target
    shutil.rmtree(target, ignore_errors=True)
    tmp = tempfile.mkdtemp(prefix=os.path.basename(target) + ".", dir=os.path.dirname(target))
    try:
        build(tmp)
        open(os.path.join(tmp, DONE), "w").close()
        os.rename(tmp, target)   # all or nothing: a killed fetch leaves only a temp folder
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-8:]
        raise FetchError(f"{what} failed ({' '.join(cmd[:4])} ...):\n" + "\n".join(tail))


def _assemble_dist(out: str) -> None:
    """One FLINK_HOME from two PyPI files: lib/ opt/ plugins/ from the archive, bin/ conf/ from the wheel."""
    downloads = os.path.join(os.path.dirname(out), "downloads")
    log.info("fetching Apache Flink %s from PyPI (about 235 MB, sha256-pinned)", FLINK_VERSION)
    _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--require-hashes",
          "--only-binary=apache-flink", "-r", DIST_REQUIREMENTS, "-d", downloads], "pip download of Flink")
    (archive,) = glob.glob(os.path.join(downloads, f"apache-flink-libraries-{FLINK_VERSION}.tar.gz"))
    (wheel,) = glob.glob(os.path.join(downloads, f"apache_flink-{FLINK_VERSION}-*.whl"))
    prefix = f"apache-flink-libraries-{FLINK_VERSION}/deps/"
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix) and m.name != prefix]
        for m in members:
            m.name = m.name[len(prefix):]
        tar.extractall(out, members=members, filter="data")
    with zipfile.ZipFile(wheel) as whl:
        for name in whl.namelist():
            for part in ("bin", "conf"):
                if name.startswith(f"pyflink/{part}/") and not name.endswith("/"):
                    dest = os.path.join(out, part, os.path.basename(name))
                    os.makedirs(os.path.dirname(dest), exist_ok=True)
                    with whl.open(name) as src, open(dest, "wb") as dst:
                        shutil.copyfileobj(src, dst)
    for script in glob.glob(os.path.join(out, "bin", "*.sh")) + [os.path.join(out, "bin", "flink")]:
        os.chmod(script, 0o755)
    missing = [p for p in ("lib/flink-dist-%s.jar" % FLINK_VERSION, "bin/jobmanager.sh", "bin/taskmanager.sh",
                           "bin/bash-java-utils.jar", "conf/config.yaml") if not os.path.exists(os.path.join(out, p))]
    if missing:
        raise FetchError(f"the Flink {FLINK_VERSION} packages lack {missing}")


def _fetch_job_server(out: str) -> None:
    """The job server's jars through Maven (which checks the registry's checksums), then our sha256 pins."""
    log.info("fetching Beam's Flink job server %s from Maven Central", BEAM_JOB_SERVER)
    lib = os.path.abspath(os.path.join(out, "lib"))   # Maven resolves relative paths against the POM
    _run(["mvn", "-q", "-B", "-C", "-f", JOB_SERVER_POM, "dependency:copy-dependencies",
          f"-DoutputDirectory={lib}"], "Maven fetch of Beam's Flink job server")
    verify_jars(lib)


def read_lock(path: str = JOB_SERVER_LOCK) -> dict[str, str]:
    pins = {}
    for n, line in enumerate(open(path), 1):
        if line.strip() and not line.startswith("#"):
            fields = line.split()
            if len(fields) != 2 or len(fields[0]) != 64:
                raise FetchError(f"{path}:{n}: expected '<sha256>  <jar name>', got {line.strip()!r}")
            pins[fields[1]] = fields[0]
    return pins


def verify_jars(lib: str, lock: str = JOB_SERVER_LOCK) -> None:
    """Every jar pinned, every pin present, every digest equal: anything else is an error."""
    pins = read_lock(lock)
    found = {os.path.basename(p) for p in glob.glob(os.path.join(lib, "*.jar"))}
    problems = [f"missing {n}" for n in sorted(set(pins) - found)]
    problems += [f"not pinned {n}" for n in sorted(found - set(pins))]
    for name in sorted(found & set(pins)):
        with open(os.path.join(lib, name), "rb") as f:
            if hashlib.file_digest(f, "sha256").hexdigest() != pins[name]:
                problems.append(f"sha256 mismatch {name}")
    if problems:
        raise FetchError(f"{lib}: the job server's jars do not match {lock}: " + "; ".join(problems[:5])
                         + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))
