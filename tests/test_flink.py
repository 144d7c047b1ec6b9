"""The Beam steps on a real Apache Flink cluster (make test-flink): the local session cluster of
`python -m pipeline flink up` (started here when .ci/run has not started it, and then stopped here), Beam's
Flink job server, and the runner's EXTERNAL worker pool. Same records and metrics as a direct run; faults
fail fast and publish nothing."""
import glob
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from cli.config import load_config
from cli.run import run_pipeline
from ops import flink, podman_service
from tests.conftest import error_line, processes_running, results_of
from tests.test_e2e import REPO, _config, tiny_overrides
from tests.test_runners import _free_port

pytestmark = pytest.mark.flink
STEPS = ("ingest", "statistics", "transform", "evaluator")   # the Beam steps


@pytest.fixture(scope="module")
def cluster():
    cfg = load_config(os.path.join(REPO, "pipeline.yaml"))
    section = cfg.flink
    started = len(flink.running(section)) < len(flink.PROCESSES)
    pids = flink.up(section, podman_service.taskmanager_env(cfg.worker))   # as `make flink-up` starts it
    yield section
    if started:   # leave a cluster that .ci/run (or a person) started; stop the one started here
        stopped = flink.down(section)
        assert set(stopped) >= set(flink.running(section).values())
        alive = {n: p for n, p in pids.items() if flink.alive(p, flink.PROCESSES[n])}
        assert not alive, f"outlived `down`: {alive}"


@pytest.fixture(scope="module")
def base(module_dataset, cluster):
    """A root with a finished direct run (1 epoch): its artifacts are what Flink must reproduce."""
    folder, tmp = module_dataset
    root = str(tmp / "root")
    summary = run_pipeline(_config(root, folder, ["trainer.epochs=1"]), ["--runner=FnApiRunner"])
    return folder, root, summary


def _run(folder, root, *extra, wait=True, cwd=REPO):
    args = [sys.executable, os.path.join(REPO, "tests", "run_tiny.py"), folder, "run",
            "--config", os.path.join(REPO, "pipeline.yaml"), "--runner", "flink"]
    for kv in tiny_overrides(root, folder, ["trainer.epochs=1"]):
        args += ["--set", kv]
    proc = subprocess.Popen(args + list(extra), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait:
        return proc
    out, err = proc.communicate(timeout=900)
    return proc.returncode, out, err


def _latest(root) -> dict:
    run_id = open(os.path.join(root, "runs", "latest")).read()
    return json.load(open(os.path.join(root, "runs", run_id, "summary.json")))


def _jobs(section) -> dict[str, str]:
    return {j["name"]: j["state"] for j in flink.rest(section, "jobs/overview")["jobs"]}


def _files(folder) -> dict[str, str]:
    return {os.path.relpath(f, folder): hashlib.sha256(open(f, "rb").read()).hexdigest()
            for f in sorted(glob.glob(os.path.join(folder, "Split-*", "*")))}


def _slices(summary):
    return [{k: s[k] for k in ("slice", "count", "accuracy", "ci")}
            for s in results_of(summary)["slices"]]


def test_beam_steps_on_flink_match_direct(base, cluster):
    folder, root, direct = base
    # 1. The direct run's model evaluated by a Flink job: identical metrics.
    rc, _, err = _run(folder, root, "--invalidate", "evaluator")
    assert rc == 0, err[-3000:]
    ported = _latest(root)
    assert ported["artifacts"]["model"] == direct["artifacts"]["model"]
    assert "--runner=FlinkRunner" in ported["beam_args"]
    assert _slices(ported) == _slices(direct) and len(_slices(direct)) > 10
    assert _jobs(cluster)[f"tiny-evaluator-{ported['run_id']}"] == "FINISHED"

    # 2. Every Beam step again, as Flink jobs: byte-identical raw and transformed shards.
    rc, _, err = _run(folder, root, "--no-cache")
    assert rc == 0, err[-3000:]
    full = _latest(root)
    assert {c["status"] for c in full["components"].values()} == {"succeeded"}
    jobs = _jobs(cluster)
    assert {s: jobs.get(f"tiny-{s}-{full['run_id']}") for s in STEPS} == {s: "FINISHED" for s in STEPS}
    for name in ("examples", "transformed_examples"):
        a, b = _files(direct["artifacts"][name]), _files(full["artifacts"][name])
        assert len(a) >= 4 and a == b, name
    assert full["records"] == direct["records"] and full["split_digest"] == direct["split_digest"]
    # statistics (a background step) runs beside transform, as in-process: both steps were running at once
    with sqlite3.connect(os.path.join(root, "metadata.sqlite")) as db:
        spans = dict(db.execute("SELECT component, started || ' ' || finished FROM executions WHERE run_id = ? AND "
                                "component IN ('statistics', 'transform')", (full["run_id"],)).fetchall())
    (s0, s1), (t0, t1) = (map(float, spans[c].split()) for c in ("statistics", "transform"))
    assert s0 < t1 and t0 < s1, spans
    assert processes_running("ops.worker_pool", "worker_pool_main", "sdk_worker_main") == []    # the run's worker pool and its SDK workers are gone


def test_a_relative_root_of_an_earlier_direct_run_reaches_the_workers(module_dataset, cluster, tmp_path):
    """The default root is relative (`pipeline_root`), and so is every artifact a direct run records with it.
    A Flink run on that root hands the evaluator the earlier run's blessed model as its baseline: the
    workers, in a folder of their own, get it as an absolute path (before: "SavedModel file does not exist
    at: pipeline_root/runs/...")."""
    folder, _ = module_dataset
    rc, _, err = _run(folder, "relroot", "--runner", "direct", cwd=tmp_path)
    assert rc == 0, err[-3000:]
    rc, _, err = _run(folder, "relroot", "--invalidate", "trainer", "--invalidate", "evaluator", cwd=tmp_path)
    assert rc == 0, err[-3000:]
    second = _latest(os.path.join(tmp_path, "relroot"))
    baseline = second["components"]["evaluator"]["baseline_model"]
    assert baseline and not os.path.isabs(baseline) and baseline.startswith("relroot/runs/"), baseline
    assert _jobs(cluster)[f"tiny-evaluator-{second['run_id']}"] == "FINISHED"


def test_predict_on_flink_matches_direct(base, cluster, tmp_path):
    """Bulk inference (RunInference) as a Flink job: the same class for every image as on direct."""
    from cli.predict import run_predict
    folder, root, direct = base
    images = os.path.join(folder, "t10k-images-idx3-ubyte.gz")
    cfg = _config(root, folder, ["trainer.epochs=1"])
    local = run_predict(cfg, ["--runner=FnApiRunner"], direct["run_id"], images, str(tmp_path / "direct"))
    args = [sys.executable, os.path.join(REPO, "tests", "run_tiny.py"), folder, "predict", "--config",
            os.path.join(REPO, "pipeline.yaml"), "--runner", "flink", "--model", direct["run_id"], "--input", images,
            "--output", str(tmp_path / "flink")]
    for kv in tiny_overrides(root, folder, ["trainer.epochs=1"]):
        args += ["--set", kv]
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    remote = json.load(open(tmp_path / "flink" / "summary.json"))
    assert remote["runner"] == "FlinkRunner" and remote["predictions"] == local["predictions"] == 80

    def classes(out):
        rows = []
        for path in glob.glob(os.path.join(out, "predictions-*.csv")):
            rows += [line.split(",")[:2] for line in open(path).read().splitlines()[1:]]
        return dict(rows)
    assert classes(tmp_path / "flink") == classes(tmp_path / "direct") and len(classes(tmp_path / "direct")) == 80
    assert "FINISHED" in {state for name, state in _jobs(cluster).items() if name.startswith("tiny-predict-")}
    assert processes_running("ops.worker_pool", "worker_pool_main", "sdk_worker_main") == []


def test_cluster_down_fails_fast_with_one_line(base):
    folder, root, _ = base
    master, endpoint = f"localhost:{_free_port()}", f"localhost:{_free_port()}"
    runs = set(glob.glob(os.path.join(root, "runs", "*", "summary.json")))
    rc, _, err = _run(folder, root, f"--flink_master={master}", f"--job_endpoint={endpoint}")
    assert rc == 2
    assert set(glob.glob(os.path.join(root, "runs", "*", "summary.json"))) == runs   # refused before a run began
    last = error_line(err)
    assert master in last and "make flink-up" in last, last


def _wait_for_job(section, prefix: str, proc, timeout=300) -> str:
    """The name of a job whose tasks are running (a RUNNING job may still be waiting for its slots)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        for job in flink.rest(section, "jobs/overview")["jobs"]:
            if job["name"].startswith(prefix) and job["state"] == "RUNNING" and job["tasks"]["running"] > 0:
                return job["name"]
        time.sleep(0.3)
    raise AssertionError(f"no job {prefix}* with running tasks within {timeout} s")


def test_taskmanager_killed_mid_step_then_resume(base, cluster):
    folder, root, _ = base
    before = _run_dirs(root)
    proc = _run(folder, root, "--invalidate", "transform", wait=False)
    _wait_for_job(cluster, "tiny-transform-", proc)
    victim = flink.running(cluster)["taskmanager"]
    os.kill(victim, signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err[-3000:]
    last = error_line(err)
    assert last.startswith("error: the run failed") and "tiny-transform-" in last and "FAILED" in last, last
    failed = _attempt_since(root, before)
    assert failed["components"]["transform"]["status"] == "failed"
    run_dir = os.path.join(root, "runs", failed["run_id"])
    assert not os.path.exists(os.path.join(run_dir, "transform"))        # nothing published
    assert not glob.glob(os.path.join(run_dir, ".staging", "transform*"))

    healed = flink.up(cluster, podman_service.taskmanager_env(load_config(os.path.join(REPO, "pipeline.yaml")).worker))
    assert healed["taskmanager"] != victim                                 # make flink-up heals the cluster
    rc, _, err = _run(folder, root, "--invalidate", "transform")   # (the base root has a cached transform)
    assert rc == 0, err[-3000:]
    resumed = _latest(root)
    status = {n: c["status"] for n, c in resumed["components"].items()}
    assert status["ingest"] == status["statistics"] == "cached" and status["transform"] == "succeeded"


def _run_dirs(root) -> set:
    return set(os.listdir(os.path.join(root, "runs")))


def _attempt_since(root, before: set) -> dict:
    """The summary of the one run that began after `before` was taken. Not the greatest run id: ids have
    whole seconds, and a refused run of the test before (a run folder with its log, no summary) began in
    the same second as the attempt once, with a greater random suffix (CI, 2026-12-07)."""
    (new,) = [d for d in _run_dirs(root) - before
              if os.path.exists(os.path.join(root, "runs", d, "summary.json"))]
    return json.load(open(os.path.join(root, "runs", new, "summary.json")))


def test_worker_pool_death_is_a_clear_error(base, cluster):
    folder, root, _ = base
    flink.up(cluster, podman_service.taskmanager_env(load_config(os.path.join(REPO, "pipeline.yaml")).worker))
    before = _run_dirs(root)
    proc = _run(folder, root, "--invalidate", "evaluator", wait=False)
    _wait_for_job(cluster, "tiny-evaluator-", proc)
    (pool,) = [int(p.split("/")[2]) for p in glob.glob("/proc/[0-9]*/cmdline")   # the pool, not its warm processes
               if b"ops.worker_pool" in _read(p) and b"--warm" not in _read(p)]
    os.kill(pool, signal.SIGKILL)
    _, err = proc.communicate(timeout=300)   # a guard against a hang, not a speed goal
    assert proc.returncode == 2, err[-3000:]
    last = error_line(err)
    assert "worker pool" in last and f"pid {pool}" in last, last
    assert _attempt_since(root, before)["components"]["evaluator"]["status"] == "failed"
    time.sleep(1)
    assert processes_running("ops.worker_pool", "worker_pool_main", "sdk_worker_main") == []


def _read(path) -> bytes:
    try:
        return open(path, "rb").read()
    except OSError:
        return b""


def test_the_local_cluster_listens_on_loopback_only(cluster):
    """The JobManager's ports, the job server's Job API and artifact staging, and the TaskManager's RPC and
    data ports, all on loopback. Not checked: the Fn API servers Beam opens inside the TaskManager for each
    job (Beam's ServerFactory binds them on every interface; docs/flink.md says so)."""
    pids = flink.running(cluster)
    assert set(pids) == set(flink.PROCESSES)
    listed = flink.rest(cluster, "taskmanagers")["taskmanagers"]   # a killed one may linger until its heartbeat
    tm_ports = {int(tm["id"].split("-")[0].rsplit(":", 1)[1]) for tm in listed} | {tm["dataPort"] for tm in listed}
    found = {}
    for line in subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout.splitlines():
        addr, port = line.split()[3].rsplit(":", 1)
        owner = next((n for n, pid in pids.items() if f"pid={pid}," in line), None)
        if owner in ("jobmanager", "jobserver") or (owner == "taskmanager" and int(port) in tm_ports):
            found[int(port)] = (owner, addr)
    assert {cluster.rest_port, cluster.job_port, cluster.artifact_port} <= set(found), found
    assert len([p for p, (owner, _) in found.items() if owner == "taskmanager"]) >= 2, found   # its RPC and data
    assert {addr for _, addr in found.values()} <= {"127.0.0.1", "[::1]", "[::ffff:127.0.0.1]"}, found


def test_a_tuner_round_is_one_flink_job_with_its_trials_at_once(base, cluster):
    """The tuner's trials are Beam elements: each round one Flink job, its two trials trained at the same time by
    two SDK workers (Reshuffle -> Flink's rebalance spreads them over the job's two subtasks; its stages one
    after the other, so Beam hands those two subtasks two different workers: pipelined, both sometimes got one)."""
    from contract import artifacts as files
    from pipeline.artifacts import read_file
    from tests.test_tuner import TINY_TUNER
    folder, root, _ = base
    rc, _, err = _run(folder, root, *(a for kv in TINY_TUNER for a in ("--set", kv)))
    assert rc == 0, err[-3000:]
    run = _latest(root)
    facts = run["components"]["tuner"]["facts"]
    assert facts["beam_jobs"] >= 2 and facts["turns_run"] >= 3
    jobs = _jobs(cluster)
    assert {r: jobs.get(f"tiny-tuner-r{r}-{run['run_id']}") for r in (1, 2)} == {1: "FINISHED", 2: "FINISHED"}
    ids = {j["name"]: j["jid"] for j in flink.rest(cluster, "jobs/overview")["jobs"]}
    plan = flink.rest(cluster, f"jobs/{ids['tiny-tuner-r1-' + run['run_id']]}/plan")["plan"]
    assert {i.get("exchange") for n in plan["nodes"] for i in n.get("inputs", [])} == {"blocking"}, plan["nodes"]
    nodes = {n["id"]: n for n in plan["nodes"]}    # the training stage right after the round-robin, not an SDK stage
    train = next(n for n in plan["nodes"] if "_TrainTurn" in n["description"])
    spread = nodes[train["inputs"][0]["id"]]
    assert spread["description"] == "Partition" and spread["inputs"][0]["ship_strategy"] == "Rebalance", plan["nodes"]
    trials = read_file(files.TRIALS, run["artifacts"]["trials"])["trials"]
    first = [t["rungs"][0] for t in trials[:2]]        # round 1: trials 0 and 1, their first turn
    assert first[0]["worker"] != first[1]["worker"], first
    spans = [json.load(open(glob.glob(os.path.join(root, "tuning", "*", f"trial-{n}", "rung-0.json"))[0]))
             for n in (0, 1)]
    assert spans[0]["started"] < spans[1]["ended"] and spans[1]["started"] < spans[0]["ended"], spans
    assert run["components"]["trainer"]["facts"]["tuned"] == read_file(
        files.BEST_HYPERPARAMETERS, run["artifacts"]["best_hyperparameters"])["values"]


def test_a_pipeline_killed_mid_run_takes_its_worker_pool_with_it(base, cluster):
    """The runner's worker pool dies with the pipeline process (PR_SET_PDEATHSIG), so a killed run leaves no pool
    holding port 50000 for the next run, and no warm worker training on (found: a killed tuner run's trials)."""
    import urllib.request
    folder, root, _ = base
    proc = _run(folder, root, "--no-cache", wait=False)
    deadline = time.monotonic() + 300
    while not processes_running("ops.worker_pool") and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
    assert processes_running("ops.worker_pool"), "the run never started its worker pool"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    deadline = time.monotonic() + 20
    while processes_running("ops.worker_pool", "sdk_worker_main") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert processes_running("ops.worker_pool", "sdk_worker_main") == []
    for job in flink.rest(cluster, "jobs/overview")["jobs"]:   # the killed run's job: cancelled for the next tests
        if job["state"] == "RUNNING":
            urllib.request.urlopen(urllib.request.Request(
                f"http://localhost:{cluster.rest_port}/jobs/{job['jid']}?mode=cancel", method="PATCH"), timeout=10)
