"""The quiet console: one start and one end line per step, no library INFO, everything in the log file."""
import os
import re

import pytest

from components.evaluator.component import SPEC as EVALUATOR
from components.pusher.component import SPEC as PUSHER
from pipeline.console import Console
from tests.test_runner import _cli

pytestmark = pytest.mark.e2e
STEPS = ["ingest", "statistics", "validator", "transform", "trainer", "evaluator", "infra_validator", "pusher",
         "report"]


def test_console_lines_and_the_log_file(tiny_dataset, tmp_path):
    _, folder, _ = tiny_dataset
    root = str(tmp_path / "root")
    done = _cli(folder, root)                      # stdout is a pipe here, not a terminal
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    for step in STEPS:
        assert sum(1 for ln in lines if re.match(rf"{step}\s+started$", ln)) == 1, (step, lines)
        ends = [ln for ln in lines if re.match(rf"{step}\s+(succeeded|cached|failed)\s+[\d.]+ s", ln)]
        assert len(ends) == 1, (step, lines)
    assert re.search(r"^evaluator\s+succeeded .*accuracy \d\.\d{4} on test \(80; chose nothing\), BLESSED", done.stdout, re.M)
    assert re.search(r"^trainer\s+1/1 epochs loss [\d.]+ accuracy", done.stdout, re.M)   # plain progress lines
    noise = [ln for ln in lines + done.stderr.splitlines()
             if re.search(r"\bINFO\b|^I\d{4} |^W\d{4} |absl|apache_beam|tensorflow", ln)]
    assert noise == [], noise[:5]
    log_line = lines[-1]
    assert log_line.startswith("log: ") and log_line.endswith("logs/pipeline.log")
    log = open(os.path.join(os.path.dirname(root), log_line[5:]) if not os.path.isabs(log_line[5:])
               else log_line[5:]).read()
    assert "INFO apache_beam" in log and "INFO pipeline.runner: === report" in log      # library and our records
    # Keras wrote its own progress lines here too (milliseconds or seconds per step, as fast as the machine)
    assert re.search(r"\d+m?s/step", log)
    assert len(lines) < 40


def test_failure_is_one_line_plus_the_log(tiny_dataset, tmp_path):
    _, folder, _ = tiny_dataset
    (tmp_path / "blocker").write_text("a file where the serving folder's parent should be")
    done = _cli(folder, str(tmp_path / "root"), "--set", f"pusher.serving_dir={tmp_path}/blocker/serving")
    err = done.stderr.strip().splitlines()
    assert done.returncode in (1, 2) and err[-3].startswith("error: ") and err[-2].startswith("log: "), err
    assert err[-1].startswith("report: ") and "pusher" in open(err[-1][8:]).read()   # the failed run's page
    assert "blocker" in err[-3] and "Traceback" not in done.stderr
    assert re.search(r"^pusher\s+failed\s", done.stdout, re.M)
    assert os.path.getsize(err[-2][5:]) > 0


def test_progress_on_a_terminal_is_one_redrawn_line():
    import io
    out = io.StringIO()
    con = Console(out, tty=True)
    con.expect("ingest", 4, "chunks")
    for _ in range(4):
        con.tick("ingest")
    con.step_end("ingest", "succeeded", 1.25, "train 3")
    text = out.getvalue()
    assert text.count("\r") == 4 and text.count("\n") == 2 and "4/4 chunks" in text
    assert text.endswith("ingest           succeeded     1.2 s  train 3\n")
    # each step's line is its spec's headline hook: the console knows no step
    assert PUSHER.headline_of({"pushed": True, "version": 7}) == "pushed version 7"
    assert EVALUATOR.headline_of({"accuracy": 0.9, "split": "test", "examples": 10, "blessed": False}) == \
        "accuracy 0.9000 on test (10; chose nothing), NOT BLESSED"
    assert "on eval (10; chose the model)" in EVALUATOR.headline_of(
        {"accuracy": 0.9, "split": "eval", "examples": 10, "blessed": True})
    assert EVALUATOR.headline_of({"split": "eval"}) == ""   # facts of a step that failed midway: no line, no error
