"""The same pipeline on other Beam runners: the portable Job API (what a Flink job server speaks),
with a separate job service and worker pool on loopback, and Dataflow's offline --dry_run."""
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from cli.run import run_pipeline
from tests.conftest import results_of
from tests.test_e2e import _config
from tests.test_runner import _cli

pytestmark = pytest.mark.e2e
VENV_BIN = os.path.dirname(sys.executable)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc, log, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"service exited: {open(log).read()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"port {port} not open after {timeout}s")


@pytest.fixture
def portable_services(tmp_path):
    """Beam's Python job service as a separate process. The EXTERNAL worker pool is the runner's own
    (ops/workers.py): started per run on the port named here, importing our code only from the
    built wheel installed in its own folder (as in the worker image), never from this repo."""
    job_port, pool_port = _free_port(), _free_port()
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ["PATH"])
    env.pop("PYTHONPATH", None)
    logs = {"jobs": str(tmp_path / "jobs.log")}
    job = subprocess.Popen([sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main",
                            "--port", str(job_port)], cwd=tmp_path, env=env, stdout=open(logs["jobs"], "w"),
                           stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_port(job_port, job, logs["jobs"])
        yield [f"--job_endpoint=localhost:{job_port}", f"--environment_config=localhost:{pool_port}"], logs
    finally:
        os.killpg(job.pid, signal.SIGKILL)   # stopped by PID (and its process group)
        job.wait(timeout=30)


def _jobs_done(log) -> int:
    return open(log).read().count("with state DONE")


def _examples(folder):
    import tensorflow as tf
    spec = {"pixels_xf": tf.io.FixedLenFeature([784], tf.float32), "label": tf.io.FixedLenFeature([], tf.int64)}
    rows = []
    for f in sorted(glob.glob(os.path.join(folder, "*.tfrecord"))):
        for rec in tf.data.TFRecordDataset(f):
            ex = tf.io.parse_single_example(rec, spec)
            rows.append((int(ex["label"]), ex["pixels_xf"].numpy().tobytes()))
    return sorted(rows)


def test_portable_runner_matches_direct(tiny_dataset, tmp_path, portable_services):
    flags, logs = portable_services
    _, folder, _ = tiny_dataset
    root = str(tmp_path / "root")
    direct = run_pipeline(_config(root, folder, ["trainer.epochs=1"]), ["--runner=FnApiRunner"])

    # 1. The direct run's model, evaluated on the portable runner: identical metrics.
    proc = _cli(folder, root, "--runner", "portable", "--invalidate", "evaluator", *flags)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ported = json.load(open(os.path.join(root, "runs", open(os.path.join(root, "runs", "latest")).read(), "summary.json")))
    assert ported["components"]["evaluator"]["status"] == "succeeded" and "--runner=PortableRunner" in ported["beam_args"]
    assert ported["artifacts"]["model"] == direct["artifacts"]["model"]
    own = lambda summary: [{k: s[k] for k in ("slice", "count", "accuracy", "ci")}
                           for s in results_of(summary)["slices"]]
    assert own(ported) == own(direct)       # (the ported run also has a baseline: the direct run's model)
    assert _jobs_done(logs["jobs"]) == 1

    # 2. Everything again on the portable runner: ingest writes the same bytes, transform the same values.
    proc = _cli(folder, root, "--runner", "portable", "--no-cache", *flags)
    assert proc.returncode == 0, proc.stderr[-3000:]
    full = json.load(open(os.path.join(root, "runs", open(os.path.join(root, "runs", "latest")).read(), "summary.json")))
    assert {c["status"] for c in full["components"].values()} == {"succeeded"}
    assert _jobs_done(logs["jobs"]) == 5                       # ingest, statistics, transform, evaluator
    from pipeline.metadata import MetadataStore
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    digest = lambda s, name: store.artifact(s["artifacts"][name])["digest"]
    assert digest(full, "examples") == digest(direct, "examples")
    assert full["records"] == direct["records"] and full["split_digest"] == direct["split_digest"]
    stats = lambda s: json.load(open(os.path.join(s["artifacts"]["statistics"], "statistics.json")))
    a, b = stats(direct), stats(full)
    assert {k: (v["count"], v["labels"], v["pixel_histogram"]) for k, v in a["splits"].items()} == \
        {k: (v["count"], v["labels"], v["pixel_histogram"]) for k, v in b["splits"].items()}
    for split in ("train", "eval"):
        a = _examples(os.path.join(direct["artifacts"]["transformed_examples"], f"Split-{split}"))
        b = _examples(os.path.join(full["artifacts"]["transformed_examples"], f"Split-{split}"))
        assert len(a) > 10 and a == b
    assert np.isfinite(full["metrics"]["accuracy"])


def test_dataflow_dry_run_builds_every_beam_step(tiny_dataset, tmp_path):
    _, folder, _ = tiny_dataset
    root = str(tmp_path / "root")
    run_pipeline(_config(root, folder, ["trainer.epochs=1"]), ["--runner=FnApiRunner"])
    from cli.dryrun import describe, dry_run_beam_steps
    cfg = _config(root, folder, ["beam.runner=dataflow"])
    jobs = dry_run_beam_steps(cfg)
    assert sorted(jobs) == ["evaluator", "ingest", "statistics", "transform"]
    image = next(a.split("=", 1)[1] for a in cfg.beam_args() if a.startswith("--sdk_container_image="))
    text = describe(jobs)
    for name in jobs:
        line = next(l for l in text.splitlines() if l.startswith(name + ":"))
        assert image in line and "mnist_lstm_pipeline-0.1.0-py3-none-any.whl" in line, line
        assert len(jobs[name].proto_pipeline.components.transforms) > 10
