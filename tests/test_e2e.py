"""The whole pipeline on a tiny generated dataset, into tmp_path (pytest -m e2e)."""
import base64
import glob
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from data.idx import IdxError, read_idx_pair, write_idx_gz
from pipeline.config import load_config
from pipeline.runner import run_pipeline

pytestmark = pytest.mark.e2e
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_overrides(root, folder, extra=()) -> list[str]:
    """--set values for a fast run on the tiny generated dataset (shared with the CLI tests)."""
    return [f"pipeline.root={root}", "data.dataset=tiny", f"data.local_dir={folder}", "data.download=false",
            "ingest.eval_fraction=0.25", "ingest.num_shards=2", "ingest.chunk_size=100",
            "trainer.cell_size=16", "trainer.epochs=2", "trainer.batch_size=32", "evaluator.min_accuracy=0.0",
            *extra]


def _config(root, folder, extra=()):
    return load_config(os.path.join(REPO, "pipeline.yaml"), tiny_overrides(root, folder, extra))


def _record_digests(run_dir):
    files = sorted(glob.glob(os.path.join(run_dir, "ingest", "examples", "Split-*", "*")))
    return {os.path.relpath(f, run_dir): hashlib.sha256(open(f, "rb").read()).hexdigest() for f in files}


def _pixels_only_records(images):
    import tensorflow as tf
    out = []
    for img in images:
        ex = tf.train.SequenceExample()
        for row in img.astype(np.float32).tolist():
            ex.feature_lists.feature_list["pixels"].feature.add().float_list.value.extend(row)
        out.append(ex.SerializeToString())
    return out


def test_pipeline_end_to_end(tiny_dataset, tmp_path):
    _, folder, paths = tiny_dataset
    root = str(tmp_path / "root")
    first = run_pipeline(_config(root, folder), ["--runner=FnApiRunner"])

    assert first["status"] == "succeeded" and first["source"]["kind"] == "local"
    assert first["blessed"] is True  # min_accuracy 0: TFMA's validation must pass
    blessing = os.path.join(first["artifacts"]["blessing"], "BLESSED")
    assert os.path.exists(blessing)
    assert {c["status"] for c in first["components"].values()} == {"succeeded"}
    assert list(first["components"]) == ["ingest", "transform", "trainer", "evaluator", "pusher", "report"]
    rec = first["records"]
    assert rec["train"] + rec["eval"] == 240 and rec["test"] == 80 and rec["eval"] > 0
    run_dir = os.path.join(root, "runs", first["run_id"])
    assert json.load(open(os.path.join(run_dir, "summary.json")))["status"] == "succeeded"
    assert open(os.path.join(root, "runs", "latest")).read() == first["run_id"]
    assert os.path.exists(os.path.join(first["artifacts"]["model"], "saved_model.pb"))
    assert not os.path.exists(os.path.join(run_dir, ".staging")) or not os.listdir(os.path.join(run_dir, ".staging"))
    assert glob.glob(os.path.join(first["artifacts"]["model_run"], "tensorboard", "train", "events.*"))

    import tensorflow_model_analysis as tfma
    result = tfma.load_eval_result(first["artifacts"]["evaluation"])
    slices = {tuple(k) for k, _ in result.slicing_metrics}
    assert () in slices and any(k and k[0][0] == "label" for k in slices)
    assert any(k and k[0][0] == "ink_bucket" for k in slices)

    # serving_default on raw records that carry nothing but pixels gives TFMA's accuracy
    import tensorflow as tf
    images, labels = read_idx_pair(paths["test_images"], paths["test_labels"])
    serve = tf.saved_model.load(first["artifacts"]["model"]).signatures["serving_default"]
    out = serve(examples=tf.constant(_pixels_only_records(images)))
    assert out["probabilities"].shape == (80, 10)
    accuracy = float(np.mean(out["classes"].numpy() == labels))
    assert first["metrics"]["split"] == "test"
    assert abs(accuracy - first["metrics"]["accuracy"]) < 1e-6

    # the gallery (computed inside TFMA) lists real mistakes of this model, with their own pixels
    gallery = json.load(open(os.path.join(first["artifacts"]["evaluation"], "misclassified.json")))
    probs = out["probabilities"].numpy()
    wrong = int(np.sum(out["classes"].numpy() != labels))
    assert len(gallery) == min(wrong, 40)
    for item in gallery:
        i = int(item["image_id"].rsplit("/", 1)[-1])
        assert labels[i] == item["label"] and int(probs[i].argmax()) == item["predicted"] != item["label"]
        assert abs(probs[i].max() - item["confidence"]) < 1e-3
        assert np.frombuffer(base64.b64decode(item["pixels"]), np.uint8).reshape(28, 28).tolist() == images[i].tolist()

    html = open(first["artifacts"]["report"]).read()
    assert "Accuracy per slice" in html and "ink_bucket=" in html and "<script" not in html
    metrics = json.load(open(os.path.join(os.path.dirname(first["artifacts"]["report"]), "metrics.json")))
    assert metrics["evaluation"]["accuracy"] == first["metrics"]["accuracy"]

    second = run_pipeline(_config(root, folder, ["evaluator.min_accuracy=0.999"]), ["--runner=FnApiRunner"],
                          no_cache=True)  # really write the records again
    assert second["run_id"] != first["run_id"] and second["split_digest"] == first["split_digest"]
    assert second["blessed"] == (second["metrics"]["accuracy"] >= 0.999)
    if not second["blessed"]:
        verdict = json.load(open(os.path.join(second["artifacts"]["blessing"], "blessing.json")))
        assert verdict["reasons"][0].startswith("overall: accuracy")
    a, b = _record_digests(run_dir), _record_digests(os.path.join(root, "runs", second["run_id"]))
    assert len(a) >= 4 and a == b
    mp = run_pipeline(_config(root, folder, ["beam.runner=direct-mp"]), load_config(
        os.path.join(REPO, "pipeline.yaml"), ["beam.runner=direct-mp"]).beam_args(), no_cache=True)
    assert "--direct_running_mode=multi_processing" in mp["beam_args"]
    assert _record_digests(os.path.join(root, "runs", mp["run_id"])) == a       # same bytes on 2 worker processes


def test_bad_idx_publishes_nothing(tiny_dataset, tmp_path):
    from tests.conftest import register, write_dataset
    bad = write_dataset(tmp_path / "bad")
    images, labels = read_idx_pair(bad["train_images"], bad["train_labels"])
    labels = labels.copy()
    labels[17] = 10
    write_idx_gz(bad["train_labels"], labels)
    register("tiny", bad)  # checksums match: the content check must catch it
    root = str(tmp_path / "root")
    with pytest.raises(IdxError, match=r"train-labels-idx1-ubyte.gz: at byte 25: label 10 at index 17"):
        run_pipeline(_config(root, str(tmp_path / "bad")), ["--runner=FnApiRunner"])
    (run_id,) = os.listdir(os.path.join(root, "runs"))
    run_dir = os.path.join(root, "runs", run_id)
    summary = json.load(open(os.path.join(run_dir, "summary.json")))
    assert summary["status"] == "failed" and "label 10" in summary["error"]
    assert summary["components"]["ingest"]["status"] == "failed"
    assert sorted(os.listdir(run_dir)) in (["summary.json"], [".staging", "summary.json"])
    assert not os.listdir(os.path.join(run_dir, ".staging")) if os.path.exists(os.path.join(run_dir, ".staging")) else True
    assert not os.path.exists(os.path.join(root, "runs", "latest"))


def test_cli_exits_nonzero_with_a_clear_message(tmp_path):
    folder = tmp_path / "fake"
    folder.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (folder / name).write_bytes(b"\x1f\x8b not really gzip")
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--set", "data.dataset=fashion_mnist",
         "--set", f"data.local_dir={folder}", "--set", f"pipeline.root={tmp_path / 'root'}"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert f"error: {folder}/train-images-idx3-ubyte.gz: not a readable gzip file" in proc.stderr
    assert not glob.glob(str(tmp_path / "root" / "runs" / "*" / "ingest"))
