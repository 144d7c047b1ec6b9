"""A run as tasks (begin, one step at a time, finish), as an orchestrator launches it: the same records and
metrics as `run`, one line for a step launched too early or with another config, a killed step launched
again, two steps finishing at once both recorded."""
import glob
import hashlib
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import error_line, results_of
from tests.test_e2e import tiny_overrides

pytestmark = pytest.mark.e2e
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = ("ingest", "statistics", "transform", "validator", "trainer", "infra_validator", "evaluator", "pusher",
         "report")


def _sets(root, folder, extra=()):
    return [a for o in tiny_overrides(root, folder, extra) for a in ("--set", o)]


def _cli(folder, *args, env=None):
    """The CLI in a process of its own, as an orchestrator's task runs it."""
    return subprocess.run([sys.executable, os.path.join(REPO, "tests", "run_tiny.py"), folder, *args], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=600)


def _digests(run_dir):
    files = sorted(glob.glob(os.path.join(run_dir, "ingest", "examples", "Split-*", "*")))
    return {os.path.relpath(f, run_dir): hashlib.sha256(open(f, "rb").read()).hexdigest() for f in files}


def _summary(root, run_id):
    return json.load(open(os.path.join(root, "runs", run_id, "summary.json")))


def _begin(folder, sets) -> str:
    begun = _cli(folder, "begin", *sets)
    assert begun.returncode == 0, begun.stderr
    return begun.stdout.strip().splitlines()[-1]


def test_a_run_as_tasks_has_the_records_and_metrics_of_run(tiny_dataset, tmp_path):
    from cli.main import main
    _, folder, _ = tiny_dataset
    direct_root, tasks_root = str(tmp_path / "run"), str(tmp_path / "tasks")
    assert main(["run", *_sets(direct_root, folder)]) == 0
    direct = _summary(direct_root, open(os.path.join(direct_root, "runs", "latest")).read().strip())
    sets = _sets(tasks_root, folder)
    run_id = _begin(folder, sets)
    for step in STEPS:   # every step a process of its own, like an orchestrator's tasks
        done = _cli(folder, "step", step, "--run-id", run_id, *sets)
        assert done.returncode == 0, done.stderr
        assert f"run {run_id}: step {step} succeeded" in done.stdout
    finished = _cli(folder, "finish", "--run-id", run_id, *sets)
    assert finished.returncode == 0, finished.stderr
    tasks = _summary(tasks_root, run_id)
    assert tasks["status"] == "succeeded" and list(tasks["components"]) == list(direct["components"])
    assert tasks["split_digest"] == direct["split_digest"] and tasks["records"] == direct["records"]
    assert _digests(os.path.join(tasks_root, "runs", run_id)) == _digests(os.path.join(direct_root, "runs",
                                                                                     direct["run_id"]))
    assert tasks["metrics"] == direct["metrics"] and results_of(tasks)["confusion"] == results_of(direct)["confusion"]
    assert open(os.path.join(tasks_root, "runs", "latest")).read().strip() == run_id
    assert os.path.exists(tasks["artifacts"]["report"]) and tasks["source"] == direct["source"]
    # a second run of tasks reuses every cacheable step
    again = _begin(folder, sets)
    for step in STEPS:
        assert _cli(folder, "step", step, "--run-id", again, *sets).returncode == 0
    assert _cli(folder, "finish", "--run-id", again, *sets).returncode == 0
    assert set(_summary(tasks_root, again)["cached"]) == set(STEPS) - {"report", "validator"}   # never cached


def test_a_task_too_early_or_with_another_config_is_one_line(tiny_dataset, tmp_path):
    _, folder, _ = tiny_dataset
    root = str(tmp_path / "root")
    sets = _sets(root, folder)
    run_id = _begin(folder, sets)
    early = _cli(folder, "step", "transform", "--run-id", run_id, *sets)
    assert early.returncode == 2
    assert error_line(early.stderr) == (f"error: step transform of run {run_id}: its input examples is not there "
                                        f"yet; run ingest first")
    other = _cli(folder, "step", "ingest", "--run-id", run_id, *_sets(root, folder, ["trainer.epochs=3"]))
    assert other.returncode == 2 and "begun with another config (sections trainer differ)" in error_line(other.stderr)
    unknown = _cli(folder, "step", "ingest", "--run-id", "20990101-000000-beef", *sets)
    assert unknown.returncode == 2 and "run 20990101-000000-beef: not begun" in error_line(unknown.stderr)
    not_done = _cli(folder, "finish", "--run-id", run_id, *sets)
    assert not_done.returncode == 2 and f"run {run_id}: step ingest has not run" in error_line(not_done.stderr)
    assert _summary(root, run_id)["status"] == "failed"


def test_a_killed_step_launched_again_finishes_and_two_at_once_are_both_recorded(tiny_dataset, tmp_path, store_at):
    """ingest killed after publishing its outputs but before recording them (SIGKILL), then launched again: it
    runs, replaces what the killed attempt left, and the run goes on; statistics and transform launched at
    the same moment both land in the run's summary. On both stores (SQLite, PostgreSQL)."""
    _, folder, _ = tiny_dataset
    root = str(tmp_path / "root")
    sets = _sets(root, folder, [f"pipeline.metadata={store_at}"])
    run_id = _begin(folder, sets)
    once = {"PIPELINE_FAULT": "ingest:after_publish", "PIPELINE_FAULT_ONCE": str(tmp_path / "fired")}
    killed = _cli(folder, "step", "ingest", "--run-id", run_id, *sets, env=once)
    assert killed.returncode == -9 and os.path.exists(tmp_path / "fired")
    retried = _cli(folder, "step", "ingest", "--run-id", run_id, *sets, env=once)
    assert retried.returncode == 0, retried.stderr
    from pipeline.metadata import MetadataStore
    store = MetadataStore(store_at)
    try:
        assert [e["status"] for e in store.executions(run_id)] == ["killed", "complete"]
    finally:
        store.close()
    both = [subprocess.Popen([sys.executable, os.path.join(REPO, "tests", "run_tiny.py"), folder, "step", step,
                              "--run-id", run_id, *sets], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for step in ("statistics", "transform")]
    assert [p.wait(timeout=600) for p in both] == [0, 0]
    components = _summary(root, run_id)["components"]
    assert {n: c["status"] for n, c in components.items()} == {"ingest": "succeeded", "statistics": "succeeded",
                                                                  "transform": "succeeded"}
