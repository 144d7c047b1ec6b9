"""A gs:// pipeline root on a real GCS-compatible server (fake-gcs-server behind ops/gcs_front.py, both on
loopback): every step and command, the cache, verify, and SIGKILLs mid-step, mid-publish and mid-push with
nothing half-published afterwards (pytest -m gcs; make test-gcs builds the server once)."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest

from pipeline.metadata import MetadataStore
from tests.test_e2e import REPO, tiny_overrides

pytestmark = [pytest.mark.gcs, pytest.mark.e2e]
ROOT = "gs://bkt/root"
CACHEABLE = ["ingest", "statistics", "transform", "trainer", "infra_validator", "evaluator", "pusher"]


def objects(store, prefix: str) -> dict:
    """{object name: size} under gs://bkt/<prefix>, folder markers left out."""
    url = f"{store.endpoint}/storage/v1/b/bkt/o?prefix={urllib.parse.quote(prefix, safe='')}&maxResults=5000"
    with urllib.request.urlopen(url, timeout=30) as r:
        items = json.load(r).get("items", [])
    return {i["name"]: int(i["size"]) for i in items if not i["name"].endswith("/")}


def read(store, name: str) -> bytes:
    url = f"{store.endpoint}/download/storage/v1/b/bkt/o/{urllib.parse.quote(name, safe='')}?alt=media"
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read()


def summary_of(store, run_id: str) -> dict:
    return json.loads(read(store, f"root/runs/{run_id}/summary.json"))


def cli(store, folder, tmp, command="run", *args, fault=None, root=ROOT):
    """The CLI in its own process with the store's environment, on the tiny dataset."""
    env = dict(os.environ, **store.env(), PIPELINE_FAULT=fault or "")
    name = "gs" if root.startswith("gs://") else "local"
    sets = tiny_overrides(root, folder, ["trainer.epochs=1", f"pipeline.metadata={tmp}/gs.sqlite",   # one store
                                         f"validation.expectations={tmp}/expectations-{name}.yaml"])
    if command != "run":
        sets = [s for s in sets if s.split("=")[0] in ("pipeline.root", "pipeline.metadata", "data.dataset")]
    argv = [sys.executable, os.path.join(REPO, "tests", "run_tiny.py"), folder, command, *args]
    for kv in sets:
        argv += ["--set", kv]
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


def shard_digests(files: dict) -> dict:
    """{path below the run folder: sha256} of the record shards of the examples artifacts."""
    return {k.split("/runs/", 1)[1].split("/", 1)[1]: hashlib.sha256(v).hexdigest() for k, v in files.items()
            if k.endswith(".tfrecord") and "examples/Split-" in k}


def latest_run(tmp, name="gs") -> str:
    return MetadataStore(os.path.join(tmp, f"{name}.sqlite")).runs()[-1]["run_id"]


@pytest.fixture(scope="module")
def runs(gcs_store, module_dataset):
    """A local-root run, then a gs:// root's first run and its cached rerun, all recorded in one metadata
    store: the gs:// run reuses nothing of the local root's."""
    folder, tmp = module_dataset
    tmp = str(tmp)
    local = cli(gcs_store, folder, tmp, root=os.path.join(tmp, "localroot"))
    assert local.returncode == 0, local.stderr[-3000:]
    first = cli(gcs_store, folder, tmp)
    assert first.returncode == 0, first.stderr[-3000:]
    first_id = latest_run(tmp)
    again = cli(gcs_store, folder, tmp)
    assert again.returncode == 0, again.stderr[-3000:]
    return gcs_store, folder, tmp, summary_of(gcs_store, first_id), summary_of(gcs_store, latest_run(tmp))


def test_every_step_on_a_gs_root_gives_the_local_records(runs):
    store, folder, tmp, first, _ = runs
    assert first["status"] == "succeeded" and first["blessed"] is True
    assert {c["status"] for c in first["components"].values()} == {"succeeded"}
    assert first["artifacts"]["report"].startswith(f"{ROOT}/runs/{first['run_id']}/")
    assert first["components"]["infra_validator"]["facts"]["blessed"] is True    # served from gs:// in a clean process
    pushed = first["pushed"]
    assert pushed["pushed"] is True and pushed["path"].startswith(f"{ROOT}/serving/tiny/")
    version = objects(store, pushed["path"][len("gs://bkt/"):] + "/")
    assert any(n.endswith("/saved_model.pb") for n in version) and any("/variables/" in n for n in version)
    assert objects(store, "root/index.html")                                        # the run history page

    local_dir = os.path.join(tmp, "localroot", "runs")
    (local_run,) = [d for d in os.listdir(local_dir) if d != "latest"]
    local = {}
    for d, _, names in os.walk(os.path.join(local_dir, local_run)):
        for n in names:
            local[os.path.join(d, n).replace(local_dir + "/", "x/runs/")] = open(os.path.join(d, n), "rb").read()
    remote = {n: read(store, n) for n in objects(store, f"root/runs/{first['run_id']}/") if n.endswith(".tfrecord")}
    assert shard_digests(remote) == shard_digests(local) and len(shard_digests(local)) >= 6   # byte-identical


def test_a_rerun_is_cached_and_verifies(runs):
    store, folder, tmp, first, again = runs
    status = {n: c["status"] for n, c in again["components"].items()}
    assert all(status[c] == "cached" for c in CACHEABLE), status
    verify = cli(store, folder, tmp, "verify", again["run_id"])
    assert verify.returncode == 0 and "all artifacts match" in verify.stdout, verify.stdout + verify.stderr
    verify = cli(store, folder, tmp, "verify", first["run_id"])
    assert verify.returncode == 0 and f"OK   pusher/pushed_model: {first['pushed']['path']}" in verify.stdout


def test_every_command_reads_a_gs_root(runs):
    store, folder, tmp, first, again = runs
    listed = cli(store, folder, tmp, "runs")
    assert listed.returncode == 0 and first["run_id"] in listed.stdout and "I0000" not in listed.stderr
    shown = cli(store, folder, tmp, "show", first["run_id"])
    assert shown.returncode == 0 and f"{ROOT}/runs/{first['run_id']}/ingest/examples" in shown.stdout
    lineage = cli(store, folder, tmp, "lineage", first["pushed"]["path"])
    assert lineage.returncode == 0 and "raw_data" in lineage.stdout and "sha256" in lineage.stdout
    report = cli(store, folder, tmp, "report", first["run_id"])
    assert report.returncode == 0 and first["artifacts"]["report"] in report.stdout
    compared = cli(store, folder, tmp, "compare", first["run_id"], again["run_id"])
    assert compared.returncode == 0, compared.stderr[-2000:]
    assert objects(store, f"root/compare/{first['run_id']}_vs_{again['run_id']}.html")
    test_images = os.path.join(folder, "t10k-images-idx3-ubyte.gz")
    for out in (os.path.join(tmp, "predictions"), "gs://bkt/predictions"):
        done = cli(store, folder, tmp, "predict", "--model", "latest", "--input", test_images, "--output", out)
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"with {first['pushed']['path']}" in done.stdout                   # the pushed model, on gs://
    written = objects(store, "predictions/")
    assert "predictions/summary.json" in written and json.loads(read(store, "predictions/summary.json"))[
        "predictions"] == 80 and not objects(store, "predictions.partial")


def _killed_then_rerun(store, folder, tmp, fault, invalidate):
    killed = cli(store, folder, tmp, "run", "--invalidate", invalidate, fault=fault)
    assert killed.returncode == -9, killed.stderr[-2000:]
    run_id = latest_run(tmp)
    left = objects(store, f"root/runs/{run_id}/")
    again = cli(store, folder, tmp, "run", "--invalidate", invalidate)
    assert again.returncode == 0, again.stderr[-2000:]
    summary = summary_of(store, latest_run(tmp))
    return run_id, left, summary


def test_killed_mid_ingest_then_rerun(runs):
    store, folder, tmp, first, _ = runs
    run_id, left, summary = _killed_then_rerun(store, folder, tmp, "ingest:mid", "ingest")
    assert not [n for n in left if f"/{run_id}/ingest/" in n]                  # nothing published
    assert [n for n in left if "/.staging/ingest-" in n]                       # the staging it was writing
    assert not objects(store, f"root/runs/{run_id}/.staging/")                 # swept by the rerun
    assert summary_of(store, run_id)["status"] == "killed"
    status = {n: c["status"] for n, c in summary["components"].items()}
    assert status["ingest"] == "succeeded" and status["transform"] == status["trainer"] == "cached"
    assert summary["records"] == first["records"] and summary["split_digest"] == first["split_digest"]


def test_killed_mid_publish_leaves_nothing_a_reader_uses(runs):
    store, folder, tmp, first, _ = runs
    run_id, left, summary = _killed_then_rerun(store, folder, tmp, "ingest:mid_publish", "ingest")
    published = [n for n in left if f"/{run_id}/ingest/examples/" in n]
    assert published and len(published) < len(objects(store, f"root/runs/{first['run_id']}/ingest/examples/"))
    store_rows = MetadataStore(os.path.join(tmp, "gs.sqlite"))
    assert store_rows.artifact(f"{ROOT}/runs/{run_id}/ingest/examples") is None   # never recorded
    assert not objects(store, f"root/runs/{run_id}/ingest/")                       # removed by the rerun
    assert summary["status"] == "succeeded" and summary["records"] == first["records"]


def test_killed_mid_push_never_leaves_a_loadable_half_model(runs):
    store, folder, tmp, first, _ = runs
    serving = "root/serving/tiny/"
    before = {n.split("/")[3] for n in objects(store, serving)}
    killed = cli(store, folder, tmp, "run", "--invalidate", "pusher", fault="pusher:mid")
    assert killed.returncode == -9, killed.stderr[-2000:]
    (half,) = {n.split("/")[3] for n in objects(store, serving)} - before
    assert not objects(store, f"{serving}{half}/saved_model.pb")               # not loadable: .pb comes last
    again = cli(store, folder, tmp, "run", "--invalidate", "pusher")
    assert again.returncode == 0, again.stderr[-2000:]
    versions = {n.split("/")[3] for n in objects(store, serving)}
    assert half not in versions and len(versions) == len(before) + 1
    assert all(objects(store, f"{serving}{v}/saved_model.pb") for v in versions)


# Dataflow's submission path up to the service boundary: a contract test, not Dataflow. The wheel and the
# pipeline are staged to the local gs:// bucket by Beam's own DataflowRunner, the job request goes to
# tests/dataflow_recorder.py, and the FAILED state it answers must reach the user as one line.
BEAM_STEPS = {"ingest": "ChunksToRecords", "statistics": "ComputeStatistics", "transform": "AnalyzeTrain",
              "evaluator": "ExtractEvaluateAndWriteResults"}


def _staged_pipeline(store, job: dict):
    """The portable pipeline proto that the job request names, read back from the bucket."""
    from apache_beam.portability.api import beam_runner_api_pb2
    staged = json.dumps(job)
    (path,) = set(re.findall(r"gs://bkt/dataflow/staging/[^\"]+/pipeline\.pb", staged))
    return beam_runner_api_pb2.Pipeline.FromString(read(store, path[len("gs://bkt/"):]))


def test_dataflow_submission_of_each_beam_step_up_to_the_service(runs):
    from cli.config import load_config
    from tests.dataflow_recorder import Recorder

    store, folder, tmp, first, _ = runs
    profile = load_config(os.path.join(REPO, "pipeline.yaml")).beam.profiles["dataflow"]
    image = next(a.split("=", 1)[1] for a in profile if a.startswith("--sdk_container_image="))
    for step, transform in BEAM_STEPS.items():
        with Recorder(message=f"Workflow failed. Causes: the recorder refuses {step}") as recorder:
            done = cli(store, folder, tmp, "run", "--runner", "dataflow", "--invalidate", step,
                       f"--dataflow_endpoint={recorder.endpoint}", "--project=local-project",
                       "--temp_location=gs://bkt/dataflow/tmp", "--staging_location=gs://bkt/dataflow/staging")
        assert done.returncode == 1, done.stderr[-3000:]
        last = [ln for ln in done.stderr.strip().splitlines() if not ln.startswith(("log: ", "report: "))][-1]
        assert last.startswith("error: ") and f"the recorder refuses {step}" in last and "FAILED" in last, last
        run_id = latest_run(tmp)
        summary = summary_of(store, run_id)
        assert summary["status"] == "failed" and summary["components"][step]["status"] == "failed"
        assert not objects(store, f"root/runs/{run_id}/{step}/")                   # nothing published
        (job,) = recorder.jobs
        assert job["name"] == f"tiny-{step}-{run_id}" and recorder.polls >= 1
        assert image in json.dumps(job["environment"])                            # our worker image
        staged = objects(store, "dataflow/staging/")
        assert any(n.endswith(".whl") and "mnist_lstm_pipeline" in n for n in staged)   # our code, as a wheel
        names = {t.unique_name for t in _staged_pipeline(store, job).components.transforms.values()}
        assert any(transform in n for n in names), sorted(names)[:20]


def test_a_missing_bucket_is_one_line_in_seconds(gcs_store, module_dataset):
    folder, tmp = module_dataset
    proc = cli(gcs_store, folder, tmp, root="gs://no-such-bucket/root")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "error: pipeline.root gs://no-such-bucket/root: bucket no-such-bucket does not exist" in proc.stderr


def test_object_store_local_serves_the_command_and_leaves_the_shell_alone(runs, tmp_path):
    """`--set pipeline.object_store=local` instead of `eval "$(python -m pipeline gcs env)"`: a command started
    with none of the store's variables reads the gs:// root through the store of build/gcs (here the session's,
    recorded in this folder's build/gcs/state.json), and the caller's environment keeps no proxy (issue #39)."""
    store, folder, tmp, first, again = runs
    (tmp_path / "build" / "gcs").mkdir(parents=True)
    shutil.copy(os.path.join(store.home, "state.json"), tmp_path / "build" / "gcs" / "state.json")
    shutil.copy(os.path.join(REPO, "pipeline.yaml"), tmp_path / "pipeline.yaml")
    env = {k: v for k, v in os.environ.items() if k not in store.env()} | {"PYTHONPATH": REPO}
    proc = subprocess.run([sys.executable, "-m", "pipeline", "report", first["run_id"], "--set", f"pipeline.root={ROOT}",
                           "--set", f"pipeline.metadata={tmp}/gs.sqlite", "--set", "pipeline.object_store=local"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert first["artifacts"]["report"] in proc.stdout
