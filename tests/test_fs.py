"""pipeline/fs.py's remote branches (gs:// goes through tf.io.gfile), exercised on
TensorFlow's in-memory ram:// filesystem, against the local branches doing the same work."""
import uuid

import pytest

from pipeline import artifacts as af
from pipeline import fs


@pytest.fixture(params=["local", "ram"])
def root(request, tmp_path):
    return str(tmp_path) if request.param == "local" else f"ram://fs-test-{uuid.uuid4().hex}"


def _write(path, text):
    fs.makedirs(path.rsplit("/", 1)[0])
    with fs.open_file(path, "w") as f:
        f.write(text)


def test_files_manifests_rename_copy_and_rmtree(root):
    assert fs.is_remote(root) == root.startswith("ram://")
    art = fs.join(root, "staging", "examples")
    _write(fs.join(art, "Split-train", "a.txt"), "alpha")
    _write(fs.join(art, "Split-eval", "b.txt"), "beta")
    assert fs.exists(art) and [r for r, _ in fs.walk_files(art)] == ["Split-eval/b.txt", "Split-train/a.txt"]
    files = fs.manifest(art)
    assert files["Split-train/a.txt"]["size"] == 5
    digest = fs.manifest_digest(files)

    final = fs.join(root, "run", "examples")
    fs.makedirs(fs.join(root, "run"))
    fs.rename(art, final)                           # a folder: object stores move file by file
    assert not fs.exists(art) and fs.manifest_digest(fs.manifest(final)) == digest

    fs.copy(fs.join(final, "Split-eval", "b.txt"), fs.join(root, "b-copy.txt"))
    with fs.open_file(fs.join(root, "b-copy.txt")) as f:
        assert f.read() == "beta"
    fs.rename(fs.join(root, "b-copy.txt"), fs.join(final, "Split-eval", "b.txt"), overwrite=True)
    fs.rmtree(final)
    assert not fs.exists(final)
    fs.rmtree(final)                                # gone already: no error


def test_manifest_digest_is_the_same_local_and_remote(tmp_path):
    local, ram = str(tmp_path / "a"), f"ram://fs-test-{uuid.uuid4().hex}/a"
    for base in (local, ram):
        _write(fs.join(base, "x", "1.bin"), "one")
        _write(fs.join(base, "2.bin"), "two")
    assert fs.manifest_digest(fs.manifest(local)) == fs.manifest_digest(fs.manifest(ram))


def test_publish_and_discard_on_a_remote_root():
    root = f"ram://fs-test-{uuid.uuid4().hex}/runs/r1"
    staged = af.staging_dir(root, "ingest")
    _write(fs.join(staged, "examples", "part-0"), "records")
    af.publish(fs.join(staged, "examples"), fs.join(root, "ingest", "examples"))
    assert fs.exists(fs.join(root, "ingest", "examples", "part-0"))
    af.discard(staged)
    assert not fs.exists(staged)


def test_the_bucket_check_asks_for_no_project(monkeypatch):
    """Credentials without a project (as after `gcloud auth application-default login` with no default
    project) must not stop a run: the check then only fails to reach the endpoint (a closed loopback port)."""
    import google.auth
    from google.auth.credentials import AnonymousCredentials
    for var in ("STORAGE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("API_ENDPOINT_OVERRIDE", "http://127.0.0.1:9")    # discard port: nothing listens
    monkeypatch.setattr(google.auth, "default", lambda *a, **k: (AnonymousCredentials(), None))
    why = fs.check_bucket("gs://some-bucket/root", timeout_s=5)
    assert why.startswith("could not reach bucket some-bucket: ConnectionError: "), why
