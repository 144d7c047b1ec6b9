"""Artifact files are named once, in contract/artifacts.py, with a version that readers check."""
import json
import pathlib
import re
import subprocess
import sys

import pytest

from contract import artifacts as files
from contract.artifacts import SchemaError
from pipeline.artifacts import read_file, write_file

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_each_file_is_named_only_in_the_contract():
    """The issue's check, for every declared file: no code outside contract/ spells its name."""
    names = "|".join(re.escape(f.file.rsplit("/", 1)[-1]) for f in files.FILES)
    found = subprocess.run(["grep", "-rnE", names, "components", "pipeline", "cli", "ops", "--include=*.py"],
                           cwd=ROOT, capture_output=True, text=True).stdout
    assert found == ""
    assert len({f.file for f in files.FILES}) == len(files.FILES)


def test_a_file_round_trips_with_its_version(tmp_path):
    write_file(files.COUNTS, str(tmp_path), {"train": 3, "eval": 1})
    assert json.loads((tmp_path / "counts.json").read_text())["schema"] == "counts/1"
    assert read_file(files.COUNTS, str(tmp_path)) == {"train": 3, "eval": 1}
    write_file(files.MISCLASSIFIED, str(tmp_path), [{"image_id": "a"}])      # a list keeps its order
    assert read_file(files.MISCLASSIFIED, str(tmp_path)) == [{"image_id": "a"}]


def test_a_file_without_a_version_is_version_one(tmp_path):
    (tmp_path / "counts.json").write_text(json.dumps({"train": 3}))   # written before versions were recorded
    assert read_file(files.COUNTS, str(tmp_path)) == {"train": 3}


def test_another_version_is_refused_with_one_line_naming_the_file(tmp_path):
    (tmp_path / "canaries.json").write_text(json.dumps({"schema": "canaries/2", "canaries": []}))
    with pytest.raises(SchemaError) as e:
        read_file(files.CANARIES, str(tmp_path))
    message = str(e.value)
    assert "\n" not in message and str(tmp_path / "canaries.json") in message
    assert "canaries/2" in message and "canaries/1" in message


def test_the_cli_prints_the_schema_error_as_one_line(tmp_path):
    """`python -m pipeline expectations` from a run whose statistics have another version: exit 2, one line."""
    run = tmp_path / "root" / "runs" / "r1"
    stats = run / "statistics" / "statistics"
    stats.mkdir(parents=True)
    (stats / "statistics.json").write_text(json.dumps({"schema": "statistics/9"}))
    (run / "summary.json").write_text(json.dumps({"artifacts": {"statistics": str(stats)}}))
    done = subprocess.run([sys.executable, "-m", "pipeline", "expectations", "--from", "r1",
                           "--set", f"pipeline.root={tmp_path / 'root'}",
                           "--set", f"validation.expectations={tmp_path / 'exp.yaml'}"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and not (tmp_path / "exp.yaml").exists()
    errors = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(errors) == 1 and "statistics/9" in errors[0], done.stderr
