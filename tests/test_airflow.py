"""The pipeline as an Airflow 3 DAG, run by the real Airflow engine (`dag.test()` on a SQLite database, in
Airflow's own venv: make airflow-venv), on a tiny IDX set declared in the config (make test-airflow):
every step a task with the records and metrics of `run`, a second DAG run reusing every cached step, a task
killed once and retried by Airflow with the metadata store on a PostgreSQL server."""
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import results_of, write_dataset
from tests.test_e2e import REPO, tiny_overrides

pytestmark = [pytest.mark.e2e, pytest.mark.airflow]
AIRFLOW_PYTHON = os.path.join(REPO, "build", "airflow", "venv", "bin", "python")
CLASSES = "[a, b, c, d, e, f, g, h, i, j]"


def _sets(root, folder, extra=()) -> list[str]:
    """tiny_overrides with the IDX files declared as the user's own dataset (no registry in the tasks)."""
    sets = [kv for kv in tiny_overrides(root, folder) if not kv.startswith(("data.dataset=", "data.local_dir="))]
    return sets + ["data.dataset=tinyidx", f"data.datasets={{tinyidx: {{format: idx, path: {folder}, "
                   f"class_names: {CLASSES}}}}}", "orchestration.retry_delay_s=0",
                   f"orchestration.python={sys.executable}", *extra]


def _flags(sets):
    return [a for kv in sets for a in ("--set", kv)]


def _dag_run(home, sets, env=None) -> dict:
    """Write the DAG file into Airflow's dags folder, then one DAG run with the real engine."""
    dag = os.path.join(home, "dags", "mnist_lstm.py")
    os.makedirs(os.path.dirname(dag), exist_ok=True)
    wrote = subprocess.run([sys.executable, "-m", "pipeline", "airflow-dag", "--output", dag, *_flags(sets)],
                           cwd=REPO, capture_output=True, text=True)
    assert wrote.returncode == 0, wrote.stderr
    airflow_env = {**os.environ, "AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                   "AIRFLOW__CORE__DAGS_FOLDER": os.path.dirname(dag), **(env or {})}
    done = subprocess.run([AIRFLOW_PYTHON, os.path.join(REPO, "tests", "airflow_dag_test.py"), dag], cwd=home,
                          env=airflow_env, capture_output=True, text=True, timeout=1200)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert done.returncode == 0 and line, (done.stdout + done.stderr)[-4000:]
    return json.loads(line[len("RESULT "):])


def _summary(root, run_id):
    return json.load(open(os.path.join(root, "runs", run_id, "summary.json")))


@pytest.fixture
def idx(tmp_path):
    folder = str(tmp_path / "idx")
    write_dataset(folder)
    return folder


def _latest(root):
    return _summary(root, open(os.path.join(root, "runs", "latest")).read().strip())


def test_every_step_is_a_task_with_the_records_and_metrics_of_run(idx, tmp_path):
    from cli.main import main
    direct_root, airflow_root = str(tmp_path / "run"), str(tmp_path / "airflow")
    assert main(["run", *_flags(_sets(direct_root, idx))]) == 0
    direct = _latest(direct_root)
    result = _dag_run(str(tmp_path / "home"), _sets(airflow_root, idx))
    assert result["state"] == "success", result
    steps = list(direct["components"])
    assert set(result["tasks"]) == {"begin", "finish", *steps}
    assert all(t["state"] == "success" and t["tries"] == 1 for t in result["tasks"].values()), result
    tasks = _latest(airflow_root)
    assert tasks["status"] == "succeeded" and list(tasks["components"]) == steps
    assert tasks["split_digest"] == direct["split_digest"] and tasks["records"] == direct["records"]
    assert tasks["metrics"] == direct["metrics"] and results_of(tasks)["confusion"] == results_of(direct)["confusion"]
    again = _dag_run(str(tmp_path / "home"), _sets(airflow_root, idx))   # the second DAG run: all cached
    assert again["state"] == "success", again
    second = _latest(airflow_root)
    assert second["run_id"] != tasks["run_id"]
    assert set(second["cached"]) == set(steps) - {"validator", "report"}   # the two that never are


@pytest.mark.postgres
def test_a_task_killed_once_is_retried_by_airflow_with_the_store_on_postgresql(idx, tmp_path, pg):
    root, store = str(tmp_path / "root"), pg.database()
    once = {"PIPELINE_FAULT": "trainer:mid", "PIPELINE_FAULT_ONCE": str(tmp_path / "fired")}
    result = _dag_run(str(tmp_path / "home"), _sets(root, idx, [f"pipeline.metadata={store}"]), env=once)
    assert os.path.exists(tmp_path / "fired")                      # the trainer's first try was killed
    assert result["state"] == "success", result
    assert result["tasks"]["trainer"] == {"state": "success", "tries": 2}, result
    assert all(t["tries"] == 1 for n, t in result["tasks"].items() if n != "trainer"), result
    summary = _latest(root)
    assert summary["status"] == "succeeded" and summary["metadata"] == store
    from pipeline.metadata import MetadataStore
    db = MetadataStore(store)
    try:
        trainer = [e["status"] for e in db.executions(summary["run_id"]) if e["component"] == "trainer"]
        assert trainer == ["killed", "complete"]
        assert db.run(summary["run_id"])["status"] == "succeeded"
    finally:
        db.close()
