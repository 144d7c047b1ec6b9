"""The Beam steps on the local Flink cluster with Beam's DOCKER environment (make test-container): each SDK
worker is a container of our image (make worker-image), started by Flink's TaskManager through podman's
socket. Same records and metrics as a direct run; no container or worker outlives the run; a container that
cannot start fails the step in bounded time and publishes nothing."""
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from cli.config import load_config
from ops import flink, podman_service, worker_image
from tests.conftest import error_line, processes_running, results_of, write_dataset
from tests.test_e2e import REPO, tiny_overrides

pytestmark = pytest.mark.container
STEPS = ("ingest", "statistics", "transform", "evaluator")
CFG = load_config(os.path.join(REPO, "pipeline.yaml"))


@pytest.fixture(scope="module")
def service():
    """podman's socket and the local Flink cluster whose TaskManager uses it (started here when missing)."""
    started_podman = podman_service.running(CFG.worker) is None
    podman_service.up(CFG.worker)
    assert CFG.worker.image in worker_image.images(CFG.worker), "build the image first: make worker-image"
    started_flink = len(flink.running(CFG.flink)) < len(flink.PROCESSES)
    flink.up(CFG.flink, podman_service.taskmanager_env(CFG.worker))
    yield CFG
    if started_flink:
        flink.down(CFG.flink)
    if started_podman:
        podman_service.down(CFG.worker)
        assert podman_service.running(CFG.worker) is None


@pytest.fixture(scope="module")
def shared_tmp():
    """A folder the containers share (worker.shared_paths is the checkout): the dataset and the roots."""
    path = os.path.join(REPO, "build", "test-container", f"{os.getpid()}")
    os.makedirs(path)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _run(folder, root, runner, *extra):
    args = [sys.executable, os.path.join(REPO, "tests", "run_tiny.py"), folder, "run",
            "--config", os.path.join(REPO, "pipeline.yaml"), "--runner", runner]
    for kv in tiny_overrides(root, folder, ["trainer.epochs=1"]):
        args += ["--set", kv]
    proc = subprocess.run(args + list(extra), cwd=REPO, capture_output=True, text=True, timeout=1200)
    return proc.returncode, proc.stderr


def _summary(root, newest=False) -> dict:
    runs = os.path.join(root, "runs")
    run_id = max(d for d in os.listdir(runs) if d != "latest") if newest else open(f"{runs}/latest").read()
    return json.load(open(os.path.join(runs, run_id, "summary.json")))


def _files(folder) -> dict[str, str]:
    return {os.path.relpath(f, folder): hashlib.sha256(open(f, "rb").read()).hexdigest()
            for f in sorted(glob.glob(os.path.join(folder, "Split-*", "*")))}


def _slices(summary):
    return [{k: s[k] for k in ("slice", "count", "accuracy", "ci")} for s in results_of(summary)["slices"]]


def test_docker_environment_on_flink_matches_direct(service, shared_tmp):
    folder, root = os.path.join(shared_tmp, "idx"), os.path.join(shared_tmp, "root")
    write_dataset(folder)
    rc, err = _run(folder, root, "direct")
    assert rc == 0, err[-3000:]
    direct = _summary(root)

    rc, err = _run(folder, root, "flink-docker", "--no-cache")
    assert rc == 0, err[-3000:]
    docker = _summary(root)
    assert "--environment_type=DOCKER" in docker["beam_args"]
    assert f"--environment_config={CFG.worker.image}" in docker["beam_args"]
    jobs = {j["name"]: j["state"] for j in flink.rest(CFG.flink, "jobs/overview")["jobs"]}
    assert {s: jobs.get(f"tiny-{s}-{docker['run_id']}") for s in STEPS} == {s: "FINISHED" for s in STEPS}
    for name in ("examples", "transformed_examples"):
        a, b = _files(direct["artifacts"][name]), _files(docker["artifacts"][name])
        assert len(a) >= 4 and a == b, name
    assert docker["records"] == direct["records"] and docker["split_digest"] == direct["split_digest"]
    # Every container Beam started is gone (it removes them), and no SDK worker runs on this machine.
    assert podman_service.leftovers(CFG.worker, CFG.worker.image) == []
    assert processes_running("sdk_worker_main", "/opt/apache/beam/boot") == []

    # The model the containers evaluated, evaluated in-process: the same metrics, slice by slice.
    rc, err = _run(folder, root, "direct", "--invalidate", "evaluator")
    assert rc == 0, err[-3000:]
    again = _summary(root)
    assert again["artifacts"]["model"] == docker["artifacts"]["model"]
    assert _slices(again) == _slices(docker) and len(_slices(docker)) > 10


def test_container_that_cannot_start_fails_fast(service, shared_tmp):
    folder, root = os.path.join(shared_tmp, "idx-fault"), os.path.join(shared_tmp, "root-fault")
    write_dataset(folder)
    # an image that does not exist: refused before any step starts (no run is even recorded)
    rc, err = _run(folder, root, "flink-docker", "--environment_config=localhost/no-such-image:0")
    assert rc == 2, err[-3000:]
    assert "localhost/no-such-image:0" in error_line(err) and "make worker-image" in error_line(err)
    assert glob.glob(os.path.join(root, "runs", "*", "summary.json")) == []   # only the log of the attempt

    # An image whose container cannot start (the bare base: no Beam boot): the first Beam step fails.
    rc, err = _run(folder, root, "flink-docker", f"--environment_config={CFG.worker.base}")
    assert rc == 1, err[-3000:]
    last = error_line(err)
    assert "docker run" in last and "a worker container could not start" in last, last
    failed = _summary(root, newest=True)
    assert failed["components"]["ingest"]["status"] == "failed"
    run_dir = os.path.join(root, "runs", failed["run_id"])
    assert not os.path.exists(os.path.join(run_dir, "ingest"))                 # nothing published
    assert podman_service.leftovers(CFG.worker, CFG.worker.base) == []          # the created one is removed
    assert processes_running("sdk_worker_main", "/opt/apache/beam/boot") == []
