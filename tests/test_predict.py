"""`python -m pipeline predict` (bulk inference with RunInference): the evaluator's classes, at scale."""
import csv
import glob
import gzip
import json
import os

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from conftest import RUNNER, make_images
from PIL import Image

from cli.predict import PredictError, run_predict
from components.bulk_inferrer.transforms import MALFORMED, DecodeImages
from tests.conftest import results_of
from tests.test_e2e import _config

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def trained(module_dataset):
    """One tiny pipeline run: (config, summary, IDX folder)."""
    from cli.run import run_pipeline
    folder, tmp = module_dataset
    cfg = _config(str(tmp / "root"), folder)
    summary = run_pipeline(cfg, [f"--runner={RUNNER}"])
    assert summary["pushed"]["pushed"]
    return cfg, summary, folder


def _rows(out):
    rows = []
    for path in sorted(glob.glob(os.path.join(out, "predictions-*.csv"))):
        with open(path) as f:
            rows += list(csv.DictReader(f))
    return rows


def _labels(folder):
    blob = gzip.decompress(open(os.path.join(folder, "t10k-labels-idx1-ubyte.gz"), "rb").read())
    return np.frombuffer(blob, dtype=np.uint8, offset=8)


def test_predict_on_idx_gives_the_evaluators_classes(trained, tmp_path):
    cfg, summary, folder = trained
    out = str(tmp_path / "preds")
    facts = run_predict(cfg, [f"--runner={RUNNER}"], "latest", os.path.join(folder, "t10k-images-idx3-ubyte.gz"), out)
    rows = _rows(out)
    assert facts["predictions"] == len(rows) == 80 and facts["malformed"] == 0 and facts["input_kind"] == "idx"
    assert facts["model"] == summary["pushed"]["path"]
    labels = _labels(folder)
    predicted = {int(r["id"].rsplit("/", 1)[1]): int(r["class"]) for r in rows}
    confusion = np.zeros((10, 10), dtype=int)
    for i, k in predicted.items():
        confusion[labels[i], k] += 1
    assert confusion.tolist() == results_of(summary)["confusion"]      # every image, the evaluator's class
    canaries = json.load(open(os.path.join(summary["artifacts"]["evaluation"], "canaries.json")))["canaries"]
    assert canaries and all(predicted[int(c["image_id"].rsplit("/", 1)[1])] == c["predicted"] for c in canaries)
    row = rows[0]
    assert row["class_name"] == "abcdefghij"[int(row["class"])]                # names from the model's assets.extra
    assert abs(sum(float(row[f"p_{n}"]) for n in "abcdefghij") - 1) < 1e-4
    assert glob.glob(os.path.join(out, "predictions-*.tfrecord"))
    with pytest.raises(PredictError, match="already exists"):
        run_predict(cfg, [f"--runner={RUNNER}"], "latest", os.path.join(folder, "t10k-images-idx3-ubyte.gz"), out)


def test_predict_on_raw_records_keeps_their_ids(trained, tmp_path):
    cfg, summary, _ = trained
    out = str(tmp_path / "preds")
    split = os.path.join(summary["artifacts"]["examples"], "Split-test")
    facts = run_predict(cfg, [f"--runner={RUNNER}"], summary["run_id"], split, out)
    assert facts["input_kind"] == "tfrecord" and facts["predictions"] == 80
    assert facts["model"] == summary["artifacts"]["model"]
    predicted = {r["id"]: int(r["class"]) for r in _rows(out)}
    canaries = json.load(open(os.path.join(summary["artifacts"]["evaluation"], "canaries.json")))["canaries"]
    assert {c["image_id"]: c["predicted"] for c in canaries} == {c["image_id"]: predicted[c["image_id"]] for c in canaries}
    import tensorflow as tf
    framed = tf.data.TFRecordDataset(sorted(glob.glob(os.path.join(out, "predictions-*.tfrecord"))))
    examples = [tf.train.Example.FromString(r.numpy()).features.feature for r in framed]   # CRCs checked by TF
    assert {e["id"].bytes_list.value[0].decode(): e["class"].int64_list.value[0] for e in examples} == predicted


def test_predict_batches_give_the_serving_loops_classes(trained):
    """The Beam part alone (TestPipeline): batches of raw records through Predict, against serving_default
    called on the same records."""
    import tensorflow as tf

    from components.bulk_inferrer.transforms import Predict, read_tfrecord_batches
    _, summary, _ = trained
    files = sorted(glob.glob(os.path.join(summary["artifacts"]["examples"], "Split-test", "*")))
    batches = [b for f in files for b in read_tfrecord_batches(f, 16)]
    assert sum(map(len, batches)) == 80 and max(map(len, batches)) == 16
    serve = tf.saved_model.load(summary["artifacts"]["model"]).signatures["serving_default"]
    expected = sorted((i, int(np.argmax(p))) for b in batches for i, p in
                      zip((i for i, _ in b), serve(examples=tf.constant([r for _, r in b]))["probabilities"].numpy()))

    def classes(rows):
        return sorted((line.split(",")[0], int(line.split(",")[1])) for csv_lines, _ in rows
                      for line in csv_lines.split("\n"))

    with TestPipeline(runner=RUNNER) as p:
        rows = p | beam.Create(batches) | Predict(summary["artifacts"]["model"], tuple("abcdefghij"))
        assert_that(rows | beam.combiners.ToList() | beam.Map(classes), equal_to([expected]), label="CheckClasses")


def test_prediction_rows_are_what_protobuf_and_csv_write():
    import csv
    import io

    from components.bulk_inferrer.rows import csv_block, prediction_examples
    from contract import wire
    ids, classes, names = ["a", 'b,"1"', "ü" * 100], [0, 2, 1], ("x", "y,z", "w")
    probs = np.array([[0.5, 0.25, 0.25], [0.1, 0.2, 0.7], [1e-9, 1.0, 0.0]], "f4")
    expected = [wire.example({"id": wire.bytes_feature((i.encode(),)), "class": wire.int64_feature((k,)),
                              "class_name": wire.bytes_feature((names[k].encode(),)),
                              "probabilities": wire.float_feature(tuple(float(v) for v in row))})
                for i, k, row in zip(ids, classes, probs)]
    assert prediction_examples(ids, classes, names, probs) == expected
    rows = list(csv.reader(io.StringIO(csv_block(ids, classes, names, probs))))
    assert [r[:3] for r in rows] == [[i, str(k), names[k]] for i, k in zip(ids, classes)]
    assert [float(v) for v in rows[1][3:]] == pytest.approx([0.1, 0.2, 0.7], abs=1e-6)


def test_predict_is_a_run_of_the_pipelines_runner_with_its_lineage(trained, tmp_path):
    """predict runs the bulk_inferrer step through the same runner: the run is recorded, its predictions are
    an artifact whose lineage leads to the pushed model, the pusher and the trainer's run; runs/latest stays
    the trained run."""
    from cli.inspect_runs import lineage
    from pipeline.metadata import MetadataStore
    from pipeline.runner import metadata_path
    cfg, summary, folder = trained
    out = str(tmp_path / "preds")
    facts = run_predict(cfg, [f"--runner={RUNNER}"], "latest", os.path.join(folder, "t10k-images-idx3-ubyte.gz"), out)
    root = cfg.pipeline.root
    recorded = json.load(open(os.path.join(root, "runs", facts["run_id"], "summary.json")))
    assert recorded["status"] == "succeeded" and list(recorded["components"]) == ["bulk_inferrer"]
    assert json.load(open(os.path.join(out, "summary.json")))["run_id"] == facts["run_id"]
    assert open(os.path.join(root, "runs", "latest")).read().strip() == summary["run_id"]
    store = MetadataStore(metadata_path(cfg))
    try:
        text = lineage(store, recorded["artifacts"]["predictions"])
    finally:
        store.close()
    assert "<- bulk_inferrer execution" in text and f"in run {facts['run_id']}" in text, text
    assert "pushed_model: artifact" in text and "<- pusher execution" in text, text     # the model, by content
    assert "<- trainer execution" in text and f"in run {summary['run_id']}" in text, text


def test_predict_on_an_image_folder_reports_the_corrupt_file(trained, tmp_path):
    cfg, summary, _ = trained
    images, _ = make_images(12, 5)
    folder = tmp_path / "scans" / "batch1"
    folder.mkdir(parents=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"{i:02d}.png")
    (folder / "zz-corrupt.png").write_bytes(b"definitely not an image")
    out = str(tmp_path / "preds")
    facts = run_predict(cfg, [f"--runner={RUNNER}"], "latest", str(tmp_path / "scans"), out)
    assert facts["input_kind"] == "images" and facts["predictions"] == 12 and facts["malformed"] == 1
    assert {r["id"] for r in _rows(out)} == {f"batch1/{i:02d}.png" for i in range(12)}
    bad = open(glob.glob(os.path.join(out, "malformed-*.txt"))[0]).read()
    assert "batch1/zz-corrupt.png" in bad and "cannot decode" in bad
    assert not glob.glob(str(tmp_path / "preds.partial-*"))        # the staging folder is gone


def test_decode_images_tags_the_undecodable(tmp_path):
    img = np.zeros((28, 28), dtype=np.uint8)
    img[3:9, 3:9] = 200
    Image.fromarray(img).save(tmp_path / "ok.png")
    (tmp_path / "bad.png").write_bytes(b"")
    with TestPipeline(runner=RUNNER) as p:
        out = (p | beam.Create([("ok", str(tmp_path / "ok.png")), ("bad", str(tmp_path / "bad.png"))])
               | DecodeImages())
        assert_that(out.records | beam.Map(lambda kv: kv[0]), equal_to(["ok"]), label="DecodedIds")
        assert_that(out[MALFORMED] | beam.Map(lambda m: "bad.png: empty file" in m), equal_to([True]),
                    label="MalformedNamed")


def test_unusable_model_or_input_is_a_clear_error(trained, tmp_path):
    cfg, _, folder = trained
    with pytest.raises(PredictError, match="not a pushed version"):
        run_predict(cfg, [f"--runner={RUNNER}"], "12", folder, str(tmp_path / "a"))
    with pytest.raises(PredictError, match="no such file or folder"):
        run_predict(cfg, [f"--runner={RUNNER}"], "latest", str(tmp_path / "missing"), str(tmp_path / "b"))
    assert not os.path.exists(tmp_path / "a") and not os.path.exists(tmp_path / "b")


def test_a_model_of_another_dataset_is_refused(trained, tmp_path):
    """The classes the model answers in must be the dataset's the user named (data.dataset)."""
    import dataclasses
    cfg, summary, folder = trained
    other = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, dataset="fashion_mnist"))
    with pytest.raises(PredictError, match=r"its classes \(.*\) are not those of data.dataset=fashion_mnist \(T-shirt/top"):
        run_predict(other, [f"--runner={RUNNER}"], summary["run_id"], folder, str(tmp_path / "a"))
    assert not os.path.exists(tmp_path / "a")
