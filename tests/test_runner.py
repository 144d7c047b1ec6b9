"""Runner: caching, invalidation, resume after a SIGKILL, lineage; tiny data into tmp_path."""
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from cli.run import run_pipeline
from pipeline.metadata import MetadataStore
from tests.test_e2e import REPO, _config, tiny_overrides

pytestmark = pytest.mark.e2e
BEAM = ["--runner=FnApiRunner"]
CACHEABLE = ["ingest", "statistics", "transform", "trainer", "infra_validator", "evaluator", "pusher"]  # not validator, report


def _status(summary):
    return {name: c["status"] for name, c in summary["components"].items()}


def test_cache_invalidate_and_lineage(tiny_dataset, tmp_path, capsys):
    _, folder, _ = tiny_dataset
    root = str(tmp_path / "root")
    first = run_pipeline(_config(root, folder), BEAM)
    second = run_pipeline(_config(root, folder), BEAM)
    # the first run's blessed model is the candidate itself: not a baseline, so nothing changes
    assert _status(second) == {**{c: "cached" for c in CACHEABLE}, "validator": "succeeded", "report": "succeeded"}
    assert second["artifacts"]["model"] == first["artifacts"]["model"]           # reused, not rewritten
    assert second["metrics"] == first["metrics"] and second["cached"] == CACHEABLE
    assert not os.path.exists(os.path.join(root, "runs", second["run_id"], "trainer"))

    shutil.rmtree(first["artifacts"]["statistics"])                # a cached output deleted from disk
    healed = run_pipeline(_config(root, folder), BEAM)
    assert _status(healed)["statistics"] == "succeeded"            # run again, not "reused" from nothing
    assert _status(healed)["ingest"] == _status(healed)["transform"] == "cached"
    assert os.path.exists(healed["artifacts"]["statistics"])

    changed = run_pipeline(_config(root, folder, ["trainer.epochs=1"]), BEAM)   # a parameter change
    assert _status(changed)["ingest"] == "cached" and _status(changed)["trainer"] == "succeeded"
    assert changed["components"]["evaluator"]["baseline_model"] == first["artifacts"]["model"]  # a different model

    forced = run_pipeline(_config(root, folder), BEAM, invalidate=("transform",))
    st = _status(forced)
    assert st["ingest"] == "cached" and st["transform"] == "succeeded"
    # The re-run transform writes the same examples, but TensorFlow's SavedModel of the transform graph is
    # not byte-reproducible (generated function names), so its digest changes and the trainer runs again.
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    digest = lambda s, n: store.artifact(s["artifacts"][n])["digest"]
    assert digest(forced, "transformed_examples") == digest(first, "transformed_examples")
    assert digest(forced, "transform_graph") != digest(first, "transform_graph")
    assert st["trainer"] == "succeeded"

    fresh = run_pipeline(_config(root, folder), BEAM, no_cache=True)
    assert set(_status(fresh).values()) == {"succeeded"}

    from cli.inspect_runs import lineage
    text = lineage(store, first["artifacts"]["model"])
    assert "<- trainer execution" in text and "<- ingest execution" in text
    assert "train_images:" in text and "sha256 " in text
    assert f"run {second['run_id']} evaluator" in text                            # the cached run used it
    runs = {r["run_id"]: r["status"] for r in store.runs()}
    assert runs[first["run_id"]] == "succeeded" and len(runs) == 6

    from cli.main import main
    where = ["--set", f"pipeline.root={root}"]
    assert main(["runs", *where]) == 0
    listed = capsys.readouterr().out
    assert all(run_id in listed for run_id in runs) and "succeeded" in listed
    assert main(["show", second["run_id"], *where]) == 0
    shown = capsys.readouterr().out
    assert shown.count("cached from execution") == len(CACHEABLE)   # every cacheable step reused ...
    assert "-> model: artifact" in shown and first["artifacts"]["model"] in shown   # ... the first run's model
    assert main(["show", "no-such-run", *where]) == 2


def _cli(folder, root, *extra, fault=None):
    """`python -m pipeline run` on the tiny dataset in a separate process (1 epoch)."""
    env = dict(os.environ, PIPELINE_FAULT=fault or "")
    args = [sys.executable, os.path.join(REPO, "tests", "run_tiny.py"), folder, "run",
            "--config", os.path.join(REPO, "pipeline.yaml")]
    for kv in tiny_overrides(root, folder, ["trainer.epochs=1"]):
        args += ["--set", kv]
    return subprocess.run(args + list(extra), cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_kill_during_transform_then_resume(tiny_dataset, tmp_path):
    _, folder, _ = tiny_dataset
    root = str(tmp_path / "root")
    killed = _cli(folder, root, fault="transform:mid")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    (run_id,) = [d for d in os.listdir(os.path.join(root, "runs")) if d != "latest"]
    run_dir = os.path.join(root, "runs", run_id)
    assert os.path.isdir(os.path.join(run_dir, "ingest", "examples"))              # finished before the kill
    assert not os.path.exists(os.path.join(run_dir, "transform"))                  # nothing of it published
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    assert store.run(run_id)["status"] == "killed"
    status = {e["component"]: e["status"] for e in store.executions(run_id)}
    # statistics runs beside transform, in its own process: the kill may come before or after it ends
    assert status["statistics"] in ("complete", "running")
    stats_done = status.pop("statistics") == "complete"
    assert status == {"ingest": "complete", "transform": "running"}, status     # the validator waits for both

    resumed = _cli(folder, root)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    latest = open(os.path.join(root, "runs", "latest")).read()
    summary = json.load(open(os.path.join(root, "runs", latest, "summary.json")))
    assert _status(summary) == {"ingest": "cached", "statistics": "cached" if stats_done else "succeeded",
                                "validator": "succeeded",
                                "transform": "succeeded", "trainer": "succeeded", "evaluator": "succeeded",
                                "infra_validator": "succeeded", "pusher": "succeeded", "report": "succeeded"}
    assert summary["components"]["ingest"]["cached_from_run"] == run_id
