"""One base class for the errors a user acts on (contract/errors.py): the CLI maps any of them to its exit code
and one line, in one place, and a new error class has to choose whether it is one (issue #41, item 1).

    .venv/bin/python -m pytest -q tests/test_errors.py
"""
import ast
import importlib
import pathlib

import pytest

from cli.main import main
from contract.errors import PipelineError

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Failures of a step at work, not of its input: the CLI keeps their trace and says "the run failed" (exit 1)
STEP_FAILURES = {"pipeline.spec.JobFailed", "components.ingest.executor.IngestError", "data.images.ImageError"}


def _error_classes():
    for path in sorted(ROOT.glob("*/**/*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] not in ("pipeline", "components", "contract", "data", "modeling", "ops", "cli", "orchestration"):
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and (node.name.endswith("Error") or node.name == "StopPipeline"):
                yield ".".join(rel.with_suffix("").parts), node.name


def test_every_error_class_is_a_pipeline_error_or_a_step_failure():
    found = list(_error_classes())
    assert len(found) >= 14
    unclassified = []
    for module, name in found:
        cls = getattr(importlib.import_module(module), name)
        if f"{module}.{name}" not in STEP_FAILURES and not issubclass(cls, PipelineError):
            unclassified.append(f"{module}.{name}")
    assert unclassified == [], "derive from contract.errors.PipelineError, or list it in STEP_FAILURES"


@pytest.mark.parametrize("module, name, code, label", [
    ("pipeline.config", "ConfigError", 2, "error"), ("data.idx", "IdxError", 2, "error"),
    ("ops.flink", "ClusterError", 2, "error"), ("ops.worker_image", "ImageError", 2, "error"),
    ("pipeline.spec", "StopPipeline", 3, "stopped")])
def test_each_carries_its_exit_code(module, name, code, label):
    cls = getattr(importlib.import_module(module), name)
    assert (cls.exit_code, cls.label) == (code, label)


def test_the_cli_returns_the_errors_code_and_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["runs", "--config", "nowhere.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: nowhere.yaml: config file not found") and "Traceback" not in err
