"""The metadata store's behaviour on both its databases: the SQLite file (in make test) and a PostgreSQL
server of the tests' own (make test-postgres; tests/pg_server.py): two runs at once on one root, a run
killed mid-write and resumed, lineage and verify; on PostgreSQL also a server that goes away mid-run."""
import glob
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import error_line
from tests.test_e2e import REPO, tiny_overrides

pytestmark = pytest.mark.e2e
def _cli(folder, root, store, *args, fault=None, wait=True):
    cmd = [sys.executable, os.path.join(REPO, "tests", "run_tiny.py"), folder, *args]
    for kv in tiny_overrides(root, folder, ["trainer.epochs=1", f"pipeline.metadata={store}"]):
        cmd += ["--set", kv]
    env = dict(os.environ, PIPELINE_FAULT=fault or "")
    if not wait:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def _store(location):
    from pipeline.metadata import MetadataStore
    return MetadataStore(location)


def test_two_runs_at_once_on_one_root_are_both_recorded(tiny_dataset, tmp_path, store_at):
    _, folder, _ = tiny_dataset
    root = str(tmp_path / "root")
    both = [_cli(folder, root, store_at, "run", wait=False) for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in both]
    assert [p.returncode for p in both] == [0, 0], [o[1][-1500:] for o in outs]
    store = _store(store_at)
    try:
        runs = [r for r in store.runs() if r["status"] == "succeeded"]
        assert len(runs) == 2
        for r in runs:   # each run's every step recorded as done, and its outputs there
            done = {e["component"]: e["status"] for e in store.executions(r["run_id"])}
            assert len(done) == 9 and set(done.values()) <= {"complete", "cached"}, done
            for e in store.executions(r["run_id"]):
                assert all(os.path.exists(a["uri"]) for a in store.events(e["id"], "output").values())
    finally:
        store.close()


def test_a_run_killed_mid_write_is_recorded_killed_and_the_next_resumes(tiny_dataset, tmp_path, store_at):
    _, folder, _ = tiny_dataset
    root = str(tmp_path / "root")
    killed = _cli(folder, root, store_at, "run", fault="transform:after_publish")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-1500:]
    resumed = _cli(folder, root, store_at, "run")
    assert resumed.returncode == 0, resumed.stderr[-1500:]
    store = _store(store_at)
    try:
        first, second = store.runs()
        assert first["status"] == "killed" and second["status"] == "succeeded"
        done = {e["component"]: e["status"] for e in store.executions(second["run_id"])}
        assert done["ingest"] == "cached" and done["transform"] == "complete"
        # what the killed transform had moved into place but never recorded is gone, not half-published
        left = os.path.join(root, "runs", first["run_id"], "transform")
        assert not os.path.exists(left) or os.listdir(left) == []
        assert store.artifact(os.path.join(left, "transformed_examples")) is None   # nor its record
    finally:
        store.close()


def test_lineage_and_verify(tiny_dataset, tmp_path, store_at):
    _, folder, _ = tiny_dataset
    root = str(tmp_path / "root")
    assert _cli(folder, root, store_at, "run").returncode == 0
    run_id = open(os.path.join(root, "runs", "latest")).read().strip()
    model = os.path.join(root, "runs", run_id, "trainer", "model")
    lineage = _cli(folder, root, store_at, "lineage", model)
    assert lineage.returncode == 0 and "<- trainer execution" in lineage.stdout and "<- ingest execution" in \
        lineage.stdout and "raw_data" in lineage.stdout, lineage.stdout + lineage.stderr
    ok = _cli(folder, root, store_at, "verify", run_id)
    assert ok.returncode == 0 and "all artifacts match" in ok.stdout, ok.stdout + ok.stderr
    victim = sorted(glob.glob(os.path.join(root, "runs", run_id, "ingest", "examples", "Split-train", "*")))[0]
    with open(victim, "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01")
    bad = _cli(folder, root, store_at, "verify", run_id)
    assert bad.returncode == 1 and "BAD  ingest/examples" in bad.stdout


@pytest.mark.postgres
def test_a_store_server_gone_mid_run_is_one_line_and_a_rerun_resumes(tiny_dataset, tmp_path, pg):
    _, folder, _ = tiny_dataset
    root, store_at = str(tmp_path / "root"), pg.database()
    running = _cli(folder, root, store_at, "run", wait=False)
    trainer = glob.glob(os.path.join(root, "runs", "*", "logs", "pipeline.log"))
    deadline = time.time() + 300
    while time.time() < deadline:   # wait until the trainer runs, then take the server away
        trainer = glob.glob(os.path.join(root, "runs", "*", ".staging", "trainer-*"))
        if trainer or running.poll() is not None:
            break
        time.sleep(0.2)
    assert trainer, "the trainer never started"
    pg.pause()
    out, err = running.communicate(timeout=600)
    assert running.returncode == 2, err[-1500:]
    assert error_line(err).startswith(f"error: pipeline.metadata {pg.url}/") and \
        "the PostgreSQL server does not answer" in error_line(err) and "rerun" in error_line(err)
    pg.resume()
    again = _cli(folder, root, store_at, "run")
    assert again.returncode == 0, again.stderr[-1500:]
    store = _store(store_at)
    try:
        last = store.runs()[-1]
        done = {e["component"]: e["status"] for e in store.executions(last["run_id"])}
        assert done["ingest"] == done["transform"] == "cached" and done["trainer"] == "complete"
    finally:
        store.close()
