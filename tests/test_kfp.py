"""The pipeline compiled into a Kubeflow Pipelines v2 spec by the KFP SDK (make test-kfp): every step a
container component on the worker image, every edge of the task graph, the config resolved into the spec.
Not run here: a Kubeflow or Vertex cluster (none is reachable), nor kfp.local, whose subprocess runner
takes only Python components and whose Docker runner needs a Docker engine."""
import os
import subprocess
import sys

import pytest
import yaml

from tests.test_e2e import REPO

pytestmark = pytest.mark.kfp
SETS = ["pipeline.root=gs://pipeline/root", "pipeline.metadata=postgresql://pipeline@metadata:5432/pipeline",
        "trainer.epochs=3"]


def _compile(tmp_path, *sets):
    out = str(tmp_path / "spec.yaml")
    done = subprocess.run([sys.executable, "-m", "pipeline", "kubeflow", "--output", out,
                           *[a for kv in sets for a in ("--set", kv)]], cwd=REPO, capture_output=True, text=True)
    return done, out


def test_every_step_edge_and_image_is_in_the_spec(tmp_path):
    from cli.config import load_config
    from orchestration.tasks import tasks
    done, out = _compile(tmp_path, *SETS)
    assert done.returncode == 0, done.stderr
    spec = yaml.safe_load(open(out))
    cfg = load_config(os.path.join(REPO, "pipeline.yaml"), SETS)
    expected = {t.name.replace("_", "-"): t for t in tasks(cfg)}
    dag = spec["root"]["dag"]["tasks"]
    assert set(dag) == set(expected)
    for name, task in expected.items():
        ups = {u.replace("_", "-") for u in task.upstream} | ({"begin"} if name != "begin" else set())
        assert set(dag[name].get("dependentTasks", [])) == ups, name
        executor = spec["deploymentSpec"]["executors"][dag[name]["componentRef"]["name"].replace("comp-", "exec-")]
        container = executor["container"]
        assert container["image"] == cfg.worker.image
        assert container["command"][:2] == ["sh", "-c"] and "python -m pipeline" in container["command"][2]
        # the config the pod writes and loads is this config, resolved
        assert yaml.safe_load(container["command"][3]) == yaml.safe_load(yaml.safe_dump(cfg.as_dict()))
        assert container["args"][0] == task.args[0] and (task.args[0] == "begin" or task.args[1] == task.name
                                                          or task.args[0] == "finish"), container["args"]
    assert dag["finish"]["triggerPolicy"] == {"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"}   # runs after a failure
    assert "run_id" in spec["components"]["comp-begin"]["outputDefinitions"]["parameters"]


def test_a_local_root_or_store_is_refused_in_one_line(tmp_path):
    done, _ = _compile(tmp_path, "pipeline.metadata=postgresql://p@h/db")
    assert done.returncode == 2 and "Kubeflow runs each step in its own pod; expected a gs:// root" in done.stderr
    done, _ = _compile(tmp_path, "pipeline.root=gs://pipeline/root", "pipeline.metadata=build/m.sqlite")
    assert done.returncode == 2 and "expected a PostgreSQL server" in done.stderr
