"""Shared fixtures: tiny IDX datasets generated on the fly (nothing is downloaded)."""
from __future__ import annotations

import glob
import gzip
import hashlib
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # as the CLI does, before anything imports TensorFlow
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from data.idx import write_idx_gz
from data.registry import DATASETS, ROLES, Dataset, IdxFile

# Beam's DirectRunner would first try Prism, which it downloads: tests name the in-process engine.
RUNNER = "FnApiRunner"

NAMES = {"train_images": "train-images-idx3-ubyte.gz", "train_labels": "train-labels-idx1-ubyte.gz",
         "test_images": "t10k-images-idx3-ubyte.gz", "test_labels": "t10k-labels-idx1-ubyte.gz"}


def make_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learnable digits-like images: class k lights up a horizontal band at rows 2k..2k+7, plus noise."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        images[i, 2 * k: 2 * k + 8, 4 + k: 24 - k] = 200 + rng.integers(0, 56)
    return images, labels


def write_dataset(folder, n_train: int = 240, n_test: int = 80, seed: int = 0) -> dict:
    """Write the four IDX .gz files; return role -> path."""
    os.makedirs(folder, exist_ok=True)
    paths = {r: os.path.join(folder, NAMES[r]) for r in ROLES}
    train, test = make_images(n_train, seed), make_images(n_test, seed + 1)
    write_idx_gz(paths["train_images"], train[0])
    write_idx_gz(paths["train_labels"], train[1])
    write_idx_gz(paths["test_images"], test[0])
    write_idx_gz(paths["test_labels"], test[1])
    return paths


def register(name: str, paths: dict) -> Dataset:
    """A registry entry whose checksums are those of the generated files."""
    def spec(role):
        blob = open(paths[role], "rb").read()
        return IdxFile(NAMES[role], len(blob), hashlib.sha256(blob).hexdigest(),
                       hashlib.sha256(gzip.decompress(blob)).hexdigest())
    ds = Dataset(name=name, mirrors=("http://mirror.invalid/a/", "http://mirror.invalid/b/"),
                 files={r: spec(r) for r in ROLES}, local_dirs=(), class_names=tuple("abcdefghij"))
    DATASETS[name] = ds
    return ds


@pytest.fixture
def tiny_dataset(tmp_path):
    """A registered dataset 'tiny' with its files in tmp_path/idx; removed from the registry after."""
    paths = write_dataset(tmp_path / "idx")
    ds = register("tiny", paths)
    yield ds, str(tmp_path / "idx"), paths
    DATASETS.pop("tiny", None)


@pytest.fixture(scope="module")
def module_dataset(tmp_path_factory):
    """The dataset 'tiny' registered for a whole test module: (IDX folder, the module's tmp folder)."""
    tmp = tmp_path_factory.mktemp("module")
    folder = str(tmp / "idx")
    register("tiny", write_dataset(folder))
    yield folder, tmp
    DATASETS.pop("tiny", None)


def results_of(summary: dict) -> dict:
    """The evaluator's full results (slices, confusion, per class), read from its evaluation artifact."""
    import json
    with open(os.path.join(summary["artifacts"]["evaluation"], "results.json")) as f:
        return json.load(f)


def error_line(stderr: str) -> str:
    """The CLI's one-line error: the last line of stderr that is not the `log: <path>` or `report: <path>`
    line after it."""
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip() and not ln.startswith(("log: ", "report: "))]
    return lines[-1]


def processes_running(*markers: str) -> list[str]:
    """Command lines of the processes on this machine that contain any of the markers (e.g. Beam workers)."""
    found = []
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            text = open(cmdline, "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(m in text for m in markers):
            found.append(text)
    return found


@pytest.fixture(scope="session")
def gcs_store(tmp_path_factory):
    """The local object store (ops/gcs.py) for this session, with a bucket 'bkt'; stopped after, and
    checked gone (pytest -m gcs; the first use builds fake-gcs-server into build/gcs/bin)."""
    from ops import gcs
    store = gcs.up(str(tmp_path_factory.mktemp("gcs")), buckets=("bkt",))
    yield store
    gcs.down(store.home)
    assert not [p for p in (store.server_pid, store.front_pid) if os.path.exists(f"/proc/{p}/cmdline")
                and open(f"/proc/{p}/cmdline", "rb").read()], "the object store outlived its test session"


@pytest.fixture(scope="session")
def pg():
    """A PostgreSQL server of the tests' own (tests/pg_server.py), on loopback, for the session."""
    from tests.pg_server import Server
    server = Server().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_at(request, tmp_path):
    """pipeline.metadata for a test, on each database: a SQLite file in its folder (make test), or a new
    database on the tests' PostgreSQL server (make test-postgres)."""
    if request.param == "sqlite":
        return str(tmp_path / "store" / "metadata.sqlite")
    return request.getfixturevalue("pg").database()
