"""Faults and bad input: a killed trainer resumes, artifacts verify, serving rejects bad records,
and operational errors are clear (pytest -m e2e)."""
import errno
import glob
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from pipeline import artifacts as af
from tests.conftest import error_line
from tests.test_e2e import REPO
from tests.test_runner import _cli

pytestmark = pytest.mark.e2e
TRAIN = ["--set", "trainer.epochs=3", "--set", "trainer.steps_per_epoch=4", "--set", "trainer.checkpoint_steps=2"]


def _latest(root):
    run = open(os.path.join(root, "runs", "latest")).read()
    return json.load(open(os.path.join(root, "runs", run, "summary.json")))


@pytest.fixture(scope="module")
def resumed(module_dataset):
    """Kill the trainer after step 7 of 12 (checkpoints every 2 steps), then run the same command again."""
    folder, tmp = module_dataset
    root = str(tmp / "root")
    killed = _cli(folder, root, *TRAIN, fault="trainer:step7")
    checkpoints = glob.glob(os.path.join(root, "checkpoints", "trainer-*"))
    again = _cli(folder, root, *TRAIN)
    return folder, root, killed, checkpoints, again


def test_killed_trainer_resumes_from_its_checkpoint(resumed):
    _, root, killed, checkpoints, again = resumed
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert len(checkpoints) == 1                                # kept outside the run, keyed by fingerprint
    assert again.returncode == 0, again.stderr[-2000:]
    summary = _latest(root)
    trainer = summary["components"]["trainer"]
    assert summary["components"]["transform"]["status"] == "cached"
    assert trainer["status"] == "succeeded" and trainer["facts"]["resumed_from_checkpoint"] is True
    assert 0 < trainer["facts"]["steps_run"] < 12               # a fresh run does 3 x 4 steps
    assert not os.path.exists(checkpoints[0])                   # removed once the model is published


def _verify(folder, root, run_id):
    return subprocess.run([sys.executable, os.path.join(REPO, "tests", "run_tiny.py"), folder, "verify", run_id,
                           "--set", f"pipeline.root={root}"], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_verify_detects_a_changed_artifact(resumed):
    folder, root, *_ = resumed
    summary = _latest(root)
    ok = _verify(folder, root, summary["run_id"])
    assert ok.returncode == 0 and "all artifacts match" in ok.stdout, ok.stdout + ok.stderr
    victim = sorted(glob.glob(os.path.join(summary["artifacts"]["examples"], "Split-train", "*")))[0]
    backup = victim + ".bak"
    shutil.copy(victim, backup)
    try:
        with open(victim, "r+b") as f:
            f.seek(100)
            f.write(b"\x00\x01")
        bad = _verify(folder, root, summary["run_id"])
        assert bad.returncode == 1 and "BAD  ingest/examples" in bad.stdout and "changed file Split-train/" in bad.stdout
    finally:
        os.replace(backup, victim)
    missing = _verify(folder, root, "no-such-run")
    assert missing.returncode == 2 and "run 'no-such-run': not found" in missing.stderr


def _record(steps: int, width: int) -> bytes:
    import tensorflow as tf
    ex = tf.train.SequenceExample()
    for _ in range(steps):
        ex.feature_lists.feature_list["pixels"].feature.add().float_list.value.extend([7.0] * width)
    return ex.SerializeToString()


@pytest.mark.parametrize("steps, width, message", [
    (27, 28, "expected exactly 28 steps"),
    (29, 28, "expected exactly 28 steps"),
    (28, 29, "expected exactly 28 floats per step"),
    (28, 27, "expected exactly 28 floats per step"),
])
def test_serving_rejects_malformed_records(resumed, steps, width, message):
    import tensorflow as tf
    _, root, *_ = resumed
    serve = tf.saved_model.load(_latest(root)["artifacts"]["model"]).signatures["serving_default"]
    good = serve(examples=tf.constant([_record(28, 28)]))
    assert good["probabilities"].shape == (1, 10) and np.isclose(float(tf.reduce_sum(good["probabilities"])), 1.0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        serve(examples=tf.constant([_record(28, 28), _record(steps, width)]))


def _run_cli(*args):
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_unwritable_root_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = _run_cli("run", "--set", f"pipeline.root={blocker}/root")
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and str(blocker) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_incomplete_local_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "three"
    folder.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        (folder / name).write_bytes(b"x")
    proc = _run_cli("run", "--set", "data.dataset=fashion_mnist", "--set", f"data.local_dir={folder}",
                    "--set", f"pipeline.root={tmp_path / 'root'}")
    assert proc.returncode == 2
    assert f"data.local_dir {folder}: missing t10k-labels-idx1-ubyte.gz" in proc.stderr


def test_cli_rejects_bad_set_and_unknown_run(tmp_path):
    bad = _run_cli("run", "--set", "trainer.epochz=3", "--set", f"pipeline.root={tmp_path}")
    assert bad.returncode == 2 and "trainer.epochz: unknown key; did you mean 'trainer.epochs'?" in bad.stderr
    novalue = _run_cli("run", "--set", "trainer.epochs")
    assert novalue.returncode == 2 and "expected dotted.key=value" in novalue.stderr
    unknown = _run_cli("report", "nope", "--set", f"pipeline.root={tmp_path}")
    assert unknown.returncode == 2 and "run 'nope': no such run" in unknown.stderr


def _small_tmpfs(path, size: str):
    """A tmpfs of `size` mounted on path (a real full disk; needs root, as CI has); unmount it after."""
    path.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]).returncode:
        if os.environ.get("CI"):
            pytest.fail("CI runs as root and must be able to mount a small tmpfs")
        pytest.skip("mounting a small tmpfs needs root")
    return path


def test_disk_full_is_a_clear_error_and_publishes_nothing(module_dataset, tmp_path):
    """A real full disk: the pipeline root on a 3 MB tmpfs (needs root, as CI has)."""
    folder, _ = module_dataset
    root = _small_tmpfs(tmp_path / "small", "3m")
    try:
        proc = _cli(folder, str(root))
        assert proc.returncode != 0
        last = error_line(proc.stderr)     # the error, then the log's path
        assert last.startswith("error: ") and "No space left on device" in proc.stderr, last
        (run_id,) = [d for d in os.listdir(root / "runs") if d != "latest"]
        summary = json.load(open(root / "runs" / run_id / "summary.json"))
        assert summary["status"] == "failed"
        failed = [n for n, c in summary["components"].items() if c["status"] == "failed"]
        assert len(failed) == 1 and not (root / "runs" / run_id / failed[0]).exists()
        assert not (root / "runs" / "latest").exists()
    finally:
        subprocess.run(["umount", str(root)])


def test_last_word_of_a_run_fits_on_a_full_disk(tmp_path):
    """On a full disk the atomic write fails and leaves no temp file; the failed run's last summary is
    written in place over the old one (a 64 KB tmpfs filled to the last byte; needs root, as CI has)."""
    disk = _small_tmpfs(tmp_path / "disk", "64k")
    try:
        summary = str(disk / "summary.json")
        af.write_json(summary, {"status": "running", "pad": "x" * 1000})
        with pytest.raises(OSError):
            with open(disk / "filler", "wb") as f:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
        with pytest.raises(OSError) as full:
            af.write_json(summary, {"status": "failed"})
        assert full.value.errno == errno.ENOSPC
        assert sorted(os.listdir(disk)) == ["filler", "summary.json"]      # no temp file holds space
        af.write_json(summary, {"status": "failed", "error": "OSError: No space left on device"}, in_place_if_full=True)
        assert json.load(open(summary))["status"] == "failed"
    finally:
        subprocess.run(["umount", str(disk)])
