"""The serving check before push: a model that does not serve, or serves other classes than were evaluated,
is refused and not pushed."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import make_images

from components.infra_validator import executor as infra
from components.pusher import executor as pusher
from contract.records import canary_rank, to_sequence_example
from pipeline.spec import ExecContext, Params

PARAMS = {"split": "test", "canaries": 6, "batch_size": 4, "repeats": 3, "timeout_s": 240.0}


def _examples(tmp_path, n=8):
    images, labels = make_images(n, 3)
    split = tmp_path / "examples" / "Split-test"
    split.mkdir(parents=True)
    with tf.io.TFRecordWriter(str(split / "data-00000-of-00001.tfrecord")) as w:
        for i, (img, k) in enumerate(zip(images, labels)):
            w.write(to_sequence_example(img, int(k), f"t/test/{i:05d}"))
    return str(tmp_path / "examples"), labels


def _evaluation(tmp_path, predicted):
    """What the evaluator records: its class for the canaries (the 6 of lowest canary_rank)."""
    ev = tmp_path / "evaluation"
    ev.mkdir()
    ids = sorted(sorted((f"t/test/{i:05d}" for i in range(len(predicted))), key=canary_rank)[:6])
    canaries = [{"image_id": i, "predicted": int(predicted[int(i[-5:])])} for i in ids]
    (ev / "canaries.json").write_text(json.dumps({"split": "test", "canaries": canaries}))
    return str(ev)


def _model(tmp_path, kind):
    """A SavedModel that answers with each record's label ('good'), always class 0 ('constant'), or whose
    serving_default takes the wrong input ('wrong_input')."""
    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, examples):
            ctx, _, _ = tf.io.parse_sequence_example(
                examples, context_features={"label": tf.io.FixedLenFeature([], tf.int64)})
            classes = ctx["label"] if kind == "good" else tf.zeros_like(ctx["label"])
            return {"probabilities": tf.one_hot(classes, 10), "classes": classes}

        @tf.function(input_signature=[tf.TensorSpec([None, 784], tf.float32)])
        def dense(self, inputs):
            return {"probabilities": tf.nn.softmax(inputs[:, :10])}

    m = M()
    path = str(tmp_path / f"model-{kind}")
    sig = m.dense if kind == "wrong_input" else m.serve
    tf.saved_model.save(m, path, signatures={"serving_default": sig})
    return path


def _ctx(tmp_path):
    return ExecContext(run_id="r", run_dir=str(tmp_path), params=Params(PARAMS), beam_args=(),
                       temp_dir=str(tmp_path / "tmp"), component="infra_validator")


def _check(tmp_path, kind):
    examples, _ = _examples(tmp_path)
    inputs = {"model": _model(tmp_path, kind), "examples": examples}
    out = {"infra_blessing": str(tmp_path / "infra")}
    facts = infra.run(_ctx(tmp_path), inputs, out)
    return facts, json.load(open(os.path.join(out["infra_blessing"], "infra_blessing.json")))


def _push(tmp_path, kind, predicted):
    blessing = tmp_path / "blessing"
    blessing.mkdir()
    (blessing / "blessing.json").write_text(json.dumps({"blessed": True, "reasons": []}))
    ctx = ExecContext(run_id="r", run_dir=str(tmp_path), params=Params(
        {"serving_dir": str(tmp_path / "serving"), "root": str(tmp_path), "dataset": "t"}), beam_args=(),
        temp_dir=str(tmp_path / "tmp"), component="pusher")
    return pusher.run(ctx, {"model": str(tmp_path / f"model-{kind}"), "blessing": str(blessing),
                            "infra_blessing": str(tmp_path / "infra"), "evaluation": _evaluation(tmp_path, predicted)},
                      {"pushed": str(tmp_path / "pushed")})


def test_a_model_that_serves_what_was_evaluated_passes(tmp_path):
    facts, verdict = _check(tmp_path, "good")
    assert facts["blessed"] is True and verdict["reasons"] == []
    labels = make_images(8, 3)[1]
    served = verdict["served"]     # the 6 of 8 records of lowest canary_rank, in id order, with their classes
    assert [s["image_id"] for s in served] == sorted(sorted((f"t/test/{i:05d}" for i in range(8)), key=canary_rank)[:6])
    assert all(s["class"] == labels[int(s["image_id"][-5:])] for s in served)
    record = _push(tmp_path, "good", labels)
    assert record["pushed"] is True and record["serving_check"] == {"blessed": True, "reasons": []}
    assert verdict["requests_timed"] == 3 * 2 and 0 < verdict["latency_ms"]["p50"] <= verdict["latency_ms"]["p99"]
    assert verdict["signature"] == {"inputs": ["examples"], "outputs": ["classes", "probabilities"]}
    assert os.path.exists(tmp_path / "infra" / "INFRA_BLESSED")


@pytest.mark.parametrize("kind, why", [
    ("constant", r"canaries served a different class than evaluated, e.g. t/test/\d+: served class 0"),
    ("wrong_input", r"serving_default takes .*dense|serving_default takes"),
])
def test_a_broken_serving_signature_is_refused_and_not_pushed(tmp_path, kind, why):
    labels = make_images(8, 3)[1]
    if kind == "constant":
        labels = np.where(labels == 0, 1, labels)   # the evaluator never predicted 0 for these canaries
    facts, verdict = _check(tmp_path, kind)
    # a model that serves is blessed here; whether it served the evaluated classes is the pusher's check
    assert facts["blessed"] is (kind == "constant")
    assert os.path.exists(tmp_path / "infra" / ("INFRA_BLESSED" if kind == "constant" else "INFRA_NOT_BLESSED"))
    record = _push(tmp_path, kind, labels)
    assert record["pushed"] is False and record["reason"].startswith("the model failed the serving check")
    assert any(re.search(why, r) for r in record["serving_check"]["reasons"]), record["serving_check"]
    serving = tmp_path / "serving"
    assert not serving.exists() or os.listdir(serving) == []


def test_the_probe_runs_without_this_repository_importable(tmp_path):
    """The probe refuses to serve from a process that could import the pipeline's packages."""
    examples, labels = _examples(tmp_path)
    ids, records = infra.canary_records(examples, "test", 2)
    assert len(records) == 2 and infra.canary_records(examples, "test", 2) == (ids, records)   # the same each time
    result = infra.probe(_model(tmp_path, "good"), list(reversed(records)), 2, 1, 240.0)
    assert result["classes"] == [int(labels[int(i[-5:])]) for i in reversed(ids)]      # in the order sent
    # the same probe, started without -I and with the repository on PYTHONPATH, refuses to serve
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"model": _model(tmp_path, "good"), "records": "-", "batch_size": 1,
                                   "repeats": 1, "out": str(tmp_path / "out.json")}))
    leaky = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, infra.PROBE, str(request)], env=leaky, capture_output=True,
                          text=True, cwd=str(tmp_path))
    assert done.returncode != 0 and "not a clean process" in done.stderr
    assert not (tmp_path / "out.json").exists()


def test_the_pusher_names_canaries_the_serving_check_did_not_serve():
    canaries = [{"image_id": "t/test/00001", "predicted": 3}, {"image_id": "t/test/00002", "predicted": 4}]
    assert pusher.served_as_evaluated(canaries, [{"image_id": "t/test/00001", "class": 3},
                                                 {"image_id": "t/test/00002", "class": 4}]) == []
    assert pusher.served_as_evaluated(canaries, [{"image_id": "t/test/00001", "class": 3}]) == [
        "the serving check did not serve 1 of the 2 evaluated canaries, e.g. t/test/00002"]
    assert pusher.served_as_evaluated([], []) == ["the evaluator recorded no canary predictions"]
