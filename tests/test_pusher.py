"""Pusher: numbered versions, never overwritten, never visible half-copied."""
import os

import pytest

from components.pusher import executor as pusher
from pipeline import fs


def _model(tmp_path):
    model = tmp_path / "model"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"graph")
    (model / "variables" / "variables.index").write_bytes(b"index")
    (model / "fingerprint.pb").write_bytes(b"fp")
    return str(model)


def test_versions_are_new_and_saved_model_lands_last(tmp_path, monkeypatch):
    model, root = _model(tmp_path), str(tmp_path / "serving")
    order = []
    real_copy = fs.copy
    monkeypatch.setattr(fs, "copy", lambda a, b: (order.append(os.path.basename(b)), real_copy(a, b)))
    v1, p1 = pusher.push(model, root)
    v2, p2 = pusher.push(model, root)
    assert v2 > v1 and os.path.basename(p1) == str(v1)
    assert order[:3][-1] == "saved_model.pb" and order[3:][-1] == "saved_model.pb"
    assert open(os.path.join(p1, "variables", "variables.index"), "rb").read() == b"index"
    assert sorted(os.listdir(root)) == sorted([str(v1), str(v2)])  # no temporary folder left


def test_existing_version_is_never_overwritten(tmp_path, monkeypatch):
    model, root = _model(tmp_path), str(tmp_path / "serving")
    monkeypatch.setattr(pusher, "next_version", lambda root: 7)
    pusher.push(model, root)
    with pytest.raises(FileExistsError, match="never overwrites"):
        pusher.push(model, root)


def test_a_failed_copy_leaves_no_version(tmp_path, monkeypatch):
    model, root = _model(tmp_path), str(tmp_path / "serving")
    calls = []

    def flaky(a, b):
        calls.append(b)
        if len(calls) == 2:
            raise OSError("disk full")
        return fs.shutil.copyfile(a, b)
    monkeypatch.setattr(fs, "copy", flaky)
    with pytest.raises(OSError, match="disk full"):
        pusher.push(model, root)
    assert os.listdir(root) == []
