"""Data validation in the pipeline: generated expectations, anomalies that stop the run before training,
and the override (pytest -m e2e)."""
import json
import os

import numpy as np
import pytest

from cli.run import run_pipeline
from components.ingest.transforms import split_of
from data.idx import write_idx_gz
from data.registry import DATASETS
from pipeline.spec import StopPipeline
from tests.conftest import NAMES, make_images, register
from tests.test_e2e import _config

pytestmark = pytest.mark.e2e
N_TRAIN, N_TEST, EVAL_FRACTION = 1000, 300, 0.25


def _write(folder, train, test) -> str:
    os.makedirs(folder, exist_ok=True)
    paths = {r: os.path.join(folder, n) for r, n in NAMES.items()}
    for (images, labels), role in ((train, "train"), (test, "test")):
        write_idx_gz(paths[f"{role}_images"], images)
        write_idx_gz(paths[f"{role}_labels"], labels.astype(np.uint8))
    register("tiny", paths)
    return str(folder)


def _eval_indices(n):
    return [i for i in range(n) if split_of("train", f"tiny/train/{i:05d}", EVAL_FRACTION, 42) == "eval"]


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("validation")
    train, test = make_images(N_TRAIN, 0), make_images(N_TEST, 1)
    folder = _write(tmp / "clean", train, test)
    root, exp = str(tmp / "root"), str(tmp / "expectations.yaml")
    summary = run_pipeline(_cfg(root, folder, exp), ["--runner=FnApiRunner"])
    yield {"tmp": tmp, "root": root, "exp": exp, "train": train, "test": test, "summary": summary}
    DATASETS.pop("tiny", None)


def _cfg(root, folder, exp, extra=()):
    return _config(root, folder, [f"validation.expectations={exp}", f"ingest.eval_fraction={EVAL_FRACTION}",
                                  "trainer.epochs=1", *extra])


def test_clean_data_passes_and_the_report_shows_its_statistics(clean):
    summary = clean["summary"]
    assert summary["status"] == "succeeded"
    assert summary["data_validation"] == {"passed": True, "overridden": False, "anomalies": []}
    assert summary["components"]["validator"]["facts"]["expectations_generated"] is True
    text = open(clean["exp"]).read()
    assert text.startswith("# Expectations for the tiny data") and "max_label_drift" in text
    stats = json.load(open(os.path.join(summary["artifacts"]["statistics"], "statistics.json")))
    assert {s: v["count"] for s, v in stats["splits"].items()} == summary["records"]
    html = open(summary["artifacts"]["report"]).read()
    assert "DATA VALID" in html and "label share per split" in html and "mean intensity per row" in html
    run_id = summary["run_id"]
    assert f"how it was set from run {run_id}" in html and "half of each split&#x27;s count" in html
    assert "Refused whatever the expectations say: every image of a split empty" in html


def _bad_missing_class(train, test):
    keep = train[1] != 3
    return (train[0][keep], train[1][keep]), test


def _bad_imbalance(train, test):
    extra_images, extra_labels = make_images(9000, 7)
    zeros = extra_images[extra_labels == 0][:900]             # class 0: 100 + 900 = 10x any other class
    return (np.concatenate([train[0], zeros]), np.concatenate([train[1], np.zeros(len(zeros), np.uint8)])), test


def _bad_label_drift(train, test):
    labels = train[1].copy()
    ev = _eval_indices(len(labels))
    labels[ev[: int(0.4 * len(ev))]] = 0                      # eval: 4 in 10 images now say 0
    return (train[0], labels), test


def _bad_eval_copied_into_train(train, test):
    ev = _eval_indices(len(train[1]))[:40]
    return (np.concatenate([train[0], train[0][ev]]), np.concatenate([train[1], train[1][ev]])), test


def _bad_all_black_split(train, test):
    return train, (np.zeros_like(test[0]), test[1])


@pytest.mark.parametrize("make_bad, split, message", [
    (_bad_missing_class, "train", "train: label 3 missing (0 of"),
    (_bad_imbalance, "train", "train: class imbalance 1"),          # 10x, give or take the split's sampling
    (_bad_label_drift, "eval", "eval: label distribution drifts"),
    (_bad_eval_copied_into_train, "eval~train", "images appear in both eval and train"),
    (_bad_all_black_split, "test", "test: 100.0% of images are empty (no pixel above 0)"),
])
def test_bad_data_stops_before_training(clean, make_bad, split, message):
    train, test = make_bad(clean["train"], clean["test"])
    folder = _write(clean["tmp"] / make_bad.__name__, train, test)
    with pytest.raises(StopPipeline) as stop:
        run_pipeline(_cfg(clean["root"], folder, clean["exp"]), ["--runner=FnApiRunner"])
    assert message in str(stop.value)
    run_id = open(os.path.join(clean["root"], "runs", "latest")).read()     # 'latest' moves only on success
    assert run_id == clean["summary"]["run_id"]
    runs = sorted(os.listdir(os.path.join(clean["root"], "runs")))
    stopped = json.load(open(os.path.join(clean["root"], "runs", runs[-2], "summary.json")))
    assert stopped["status"] == "stopped" and "trainer" not in stopped["components"]
    verdict = json.load(open(os.path.join(stopped["artifacts"]["anomalies"], "anomalies.json")))
    assert verdict["passed"] is False and any(a["split"] == split and message in a["message"] for a in verdict["anomalies"])


def test_override_trains_anyway_and_says_so(clean):
    train, test = _bad_all_black_split(clean["train"], clean["test"])
    folder = _write(clean["tmp"] / "override", train, test)
    summary = run_pipeline(_cfg(clean["root"], folder, clean["exp"], ["validation.allow_anomalies=true"]),
                           ["--runner=FnApiRunner"])
    assert summary["status"] == "succeeded" and summary["components"]["trainer"]["status"] == "succeeded"
    dv = summary["data_validation"]
    assert dv["passed"] is False and dv["overridden"] is True
    assert any("100.0% of images are empty" in m for m in dv["anomalies"])
    html = open(summary["artifacts"]["report"]).read()
    assert "ANOMALIES OVERRIDDEN" in html and "Trained on data with anomalies" in html


def test_expectations_command_never_loses_a_reviewed_file(clean, capsys):
    from cli.main import main
    args = ["expectations", "--set", f"pipeline.root={clean['root']}", "--set", f"validation.expectations={clean['exp']}",
            "--from", clean["summary"]["run_id"]]
    reviewed = open(clean["exp"]).read() + "# reviewed by a person\n"
    open(clean["exp"], "w").write(reviewed)
    assert main(args) == 2 and "exists; review it by hand, or pass --force" in capsys.readouterr().err
    assert open(clean["exp"]).read() == reviewed
    assert main(args + ["--force"]) == 0
    assert open(clean["exp"] + ".previous").read() == reviewed
    assert "# reviewed by a person" not in open(clean["exp"]).read()


def test_cli_exits_3_and_lists_the_anomalies(clean):
    import subprocess
    import sys

    from tests.test_e2e import REPO, tiny_overrides
    train, test = _bad_all_black_split(clean["train"], clean["test"])
    folder = _write(clean["tmp"] / "cli", train, test)
    sets = tiny_overrides(clean["root"], folder, [f"validation.expectations={clean['exp']}",
                                                  f"ingest.eval_fraction={EVAL_FRACTION}"])
    args = [sys.executable, os.path.join(REPO, "tests", "run_tiny.py"), folder, "run"]
    for kv in sets:
        args += ["--set", kv]
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "stopped: validator: " in proc.stderr and "  - test: 100.0% of images are empty" in proc.stderr
    assert "set validation.allow_anomalies=true" in proc.stderr
    import re
    page = open(re.search(r"^report: (\S+)", proc.stderr, re.M).group(1)).read()   # a stopped run has its report
    assert "STOPPED" in page and "validator stopped the run" in page and "100.0% of images are empty" in page
