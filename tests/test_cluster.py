"""The Flink cluster in pods of k8s/*.yaml (podman kube play), a gs:// root on its object store pod: every
step of the tiny dataset, Flink's REST API, shards byte-identical to the in-process runner's, a TaskManager
killed mid-step that the step survives, and nothing listening beyond loopback (pytest -m cluster; make
test-cluster builds the images; the cluster is brought up here and taken down if it was not up before)."""
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid

import pytest

from tests.test_e2e import REPO, tiny_overrides

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]
BEAM_STEPS = ("ingest", "statistics", "transform", "evaluator")


@pytest.fixture(scope="module")
def pods():
    from cli.config import load_config
    from ops import cluster
    cfg = load_config(os.path.join(REPO, "pipeline.yaml"))
    started = not cluster.status_overview(cfg)
    if started:
        cluster.up(cfg)
    from ops.gcs import create_bucket
    create_bucket(cluster.store(), cluster.BUCKET)   # a cluster started by hand may lack it
    yield cluster, cfg
    if started:
        cluster.down(cfg)
        left = subprocess.run(["podman", "pod", "ps", "-a", "--format", "{{.Name}}"], capture_output=True, text=True,
                              env=_podman_env(cfg)).stdout.split()
        assert not set(left) & set(cluster.pod_names()), f"pods left behind: {left}"
        assert subprocess.run(["podman", "network", "exists", cluster.NETWORK], env=_podman_env(cfg)).returncode != 0
        for volume in cluster.named_volumes():
            assert subprocess.run(["podman", "volume", "exists", volume], env=_podman_env(cfg)).returncode != 0


def _podman_env(cfg):
    from ops.worker_image import podman_env
    return podman_env(cfg.worker)


def _cli(cluster, folder, tmp, root, *extra, runner="flink-pods", wait=True, sets=()):
    sets = tiny_overrides(root, folder, ["trainer.epochs=1", f"pipeline.metadata={tmp}/{runner}.sqlite",
                                         f"validation.expectations={tmp}/expectations-{runner}.yaml",
                                         "pipeline.object_store=pods", *sets])
    argv = [sys.executable, os.path.join(REPO, "tests", "run_tiny.py"), folder, "run", "--runner", runner, *extra]
    for kv in sets:
        argv += ["--set", kv]
    # the driver sets the object store's variables for itself (pipeline.object_store=pods), none from here
    env = {k: v for k, v in os.environ.items() if k not in cluster.env()}
    if not wait:
        return subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)   # its own process group, to kill the driver whole
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


def _objects(cluster, prefix: str) -> dict[str, bytes]:
    base = f"http://127.0.0.1:{cluster.OBJSTORE_PORT}"
    url = f"{base}/storage/v1/b/{cluster.BUCKET}/o?prefix={urllib.parse.quote(prefix, safe='')}&maxResults=5000"
    names = [i["name"] for i in json.load(urllib.request.urlopen(url, timeout=30)).get("items", [])]
    return {n: urllib.request.urlopen(f"{base}/download/storage/v1/b/{cluster.BUCKET}/o/"
                                      f"{urllib.parse.quote(n, safe='')}?alt=media", timeout=30).read()
            for n in names if n.endswith(".tfrecord")}


def _digests(files: dict[str, bytes]) -> dict[str, str]:
    """{<step>/<output>/Split-x/shard: sha256} of the record shards of a run (ingest's and transform's)."""
    return {re.sub(r"^.*/runs/[^/]+/", "", k): hashlib.sha256(v).hexdigest() for k, v in files.items()}


def _local_digests(run_dir: str) -> dict[str, str]:
    out = {}
    for folder, _, files in os.walk(run_dir):
        for f in files:
            if f.endswith(".tfrecord"):
                path = os.path.join(folder, f)
                out[os.path.relpath(path, run_dir)] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return out


@pytest.fixture(scope="module")
def first(pods, module_dataset):
    cluster, _ = pods
    folder, tmp = module_dataset
    root = f"gs://{cluster.BUCKET}/test-{uuid.uuid4().hex[:8]}"
    proc = _cli(cluster, folder, tmp, root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_id = re.search(r"^run (\S+): succeeded", proc.stdout, re.M).group(1)
    return root, run_id


def test_every_step_on_the_pods_matches_the_direct_run(pods, first, module_dataset):
    cluster, _ = pods
    folder, tmp = module_dataset
    root, run_id = first
    jobs = {j["name"]: j["state"] for j in cluster.rest("jobs/overview")["jobs"]}
    for step in BEAM_STEPS:
        assert jobs.get(f"tiny-{step}-{run_id}") == "FINISHED", (step, jobs)
    direct = _cli(cluster, folder, tmp, os.path.join(tmp, "direct-root"), runner="direct")
    assert direct.returncode == 0, direct.stderr[-3000:]
    direct_id = re.search(r"^run (\S+): succeeded", direct.stdout, re.M).group(1)
    local = _local_digests(os.path.join(tmp, "direct-root", "runs", direct_id))
    prefix = f"{root.split('/', 3)[3]}/runs/{run_id}/"
    on_pods = {k: v for step in ("ingest", "transform") for k, v in _digests(_objects(cluster, prefix + step)).items()}
    assert {k for k in local if k.startswith(("ingest/", "transform/"))} == set(on_pods) and len(on_pods) >= 10
    assert {k: local[k] for k in on_pods} == on_pods


def _running_job(cluster, name_part: str, timeout_s: float = 300) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for j in cluster.rest("jobs/overview")["jobs"]:
            if name_part in j["name"] and j["state"] == "RUNNING":
                detail = cluster.rest(f"jobs/{j['jid']}")
                if any(v["status"] == "RUNNING" for v in detail["vertices"]):
                    return j["jid"]
        time.sleep(0.5)
    raise AssertionError(f"no running Flink job '{name_part}' within {timeout_s:.0f} s")


def _taskmanager_running(cluster, cfg, jid: str) -> str:
    """The TaskManager container that runs tasks of the job (by the pod's address on the pod network)."""
    detail = cluster.rest(f"jobs/{jid}")
    hosts = {tm["endpoint"].split(":")[0] for v in detail["vertices"]
             for tm in cluster.rest(f"jobs/{jid}/vertices/{v['id']}/taskmanagers")["taskmanagers"]}
    for pod in cluster.pod_names():
        if "taskmanager" in pod:
            name = f"{pod}-taskmanager"
            ips = subprocess.run(["podman", "exec", name, "hostname", "-I"], capture_output=True, text=True,
                                 env=_podman_env(cfg)).stdout.split()
            if set(ips) & hosts:
                return name
    raise AssertionError(f"no TaskManager pod has the address of {hosts}")


def _failovers(cluster, jid: str) -> str:
    """What Flink recorded of the job's failures, for the message of a failed assertion."""
    entries = cluster.rest(f"jobs/{jid}/exceptions")["exceptionHistory"]["entries"]
    return "\nFlink's exception history:\n" + "\n".join(
        f"{e['timestamp']} {e.get('taskName')} {e.get('location')}: {e['exceptionName']}: "
        + e['stacktrace'].splitlines()[0][:300] for e in entries)


def test_a_killed_taskmanager_pod_is_survived(pods, first, module_dataset):
    cluster, cfg = pods
    folder, tmp = module_dataset
    root, first_id = first
    run = _cli(cluster, folder, tmp, root, "--invalidate", "transform", wait=False)
    jid = _running_job(cluster, "tiny-transform-")
    _crash(cfg, _taskmanager_running(cluster, cfg, jid))
    out, _ = run.communicate(timeout=900)
    assert run.returncode == 0, out[-3000:] + _failovers(cluster, jid)
    run_id = re.search(r"^run (\S+): succeeded", out, re.M).group(1)
    job = cluster.rest(f"jobs/{jid}")
    assert job["state"] == "FINISHED" and job["name"] == f"tiny-transform-{run_id}"
    assert cluster.rest(f"jobs/{jid}/exceptions")["exceptionHistory"]["entries"], "Flink recorded no failover"
    prefix = root.split("/", 3)[3]
    before = _digests(_objects(cluster, f"{prefix}/runs/{first_id}/transform/"))
    after = _digests(_objects(cluster, f"{prefix}/runs/{run_id}/transform/"))
    assert before and before == after                  # the same records after the failover


def _crash(cfg, container: str) -> None:
    """SIGKILL to the container's main process from the host: a crash, which podman's restartPolicy
    answers by restarting the container (`podman kill` counts as stopped by the user: never restarted)."""
    pid = subprocess.run(["podman", "inspect", "--format", "{{.State.Pid}}", container], capture_output=True,
                         text=True, check=True, env=_podman_env(cfg)).stdout.strip()
    os.kill(int(pid), signal.SIGKILL)


def _restarts(cfg, container: str) -> int:
    out = subprocess.run(["podman", "inspect", "--format", "{{.RestartCount}}", container], capture_output=True,
                         text=True, check=True, env=_podman_env(cfg)).stdout
    return int(out.strip())


def _until_store_answers(cluster, prefix: str, timeout_s: float = 120) -> dict[str, bytes]:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return _objects(cluster, prefix)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_a_restarted_object_store_keeps_its_objects_and_no_step_hangs(pods, first, module_dataset):
    """The object store's server crashes mid-step: podman restarts it (restartPolicy: Always) and its objects
    are still there (the claim's volume); the step gets through on the clients' retries or fails with one
    line, within a bound, and then a rerun finishes with the same records."""
    cluster, cfg = pods
    folder, tmp = module_dataset
    root, first_id = first
    prefix = root.split("/", 3)[3]
    before = _digests(_objects(cluster, f"{prefix}/runs/{first_id}/transform/"))
    restarts = _restarts(cfg, "objstore-server")
    run = _cli(cluster, folder, tmp, root, "--invalidate", "transform", wait=False)
    _running_job(cluster, "tiny-transform-")
    _crash(cfg, "objstore-server")
    out, _ = run.communicate(timeout=600)              # a hang would end here
    assert _digests(_until_store_answers(cluster, f"{prefix}/runs/{first_id}/transform/")) == before
    assert _restarts(cfg, "objstore-server") > restarts
    if run.returncode != 0:                           # one clear line, then the rerun resumes
        assert len([line for line in out.splitlines() if line.startswith("error:")]) == 1, out[-3000:]
        assert "Traceback" not in out, out[-3000:]
        rerun = _cli(cluster, folder, tmp, root, "--invalidate", "transform")   # its shards in its own folder
        assert rerun.returncode == 0, rerun.stdout[-3000:]
        out = rerun.stdout
    run_id = re.search(r"^run (\S+): succeeded", out, re.M).group(1)
    assert _digests(_objects(cluster, f"{prefix}/runs/{run_id}/transform/")) == before


def test_a_killed_driver_resumes_from_the_cache(pods, first, module_dataset):
    """The driver killed (SIGKILL, its whole process group) while the evaluator's Flink job runs: the rerun
    reuses the trainer that the killed run finished (2 epochs: no other run has it) and runs the rest."""
    cluster, cfg = pods
    folder, tmp = module_dataset
    root, _ = first
    run = _cli(cluster, folder, tmp, root, wait=False, sets=["trainer.epochs=2"])
    _running_job(cluster, "tiny-evaluator-", timeout_s=600)
    os.killpg(run.pid, signal.SIGKILL)
    killed_out, _ = run.communicate(timeout=60)
    assert re.search(r"^trainer\s+succeeded", killed_out, re.M), killed_out[-3000:]
    rerun = _cli(cluster, folder, tmp, root, sets=["trainer.epochs=2"])
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert re.search(r"^trainer\s+cached", rerun.stdout, re.M), rerun.stdout[-3000:]
    assert re.search(r"^evaluator\s+succeeded", rerun.stdout, re.M), rerun.stdout[-3000:]


def test_nothing_listens_beyond_loopback(pods, first):
    cluster, cfg = pods
    ours = {cluster.REST_PORT, cluster.JOB_PORT, cluster.JOB_PORT - 1, cluster.OBJSTORE_PORT}
    listening = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout.splitlines()
    found = {}
    for line in listening:
        local = line.split()[3]
        addr, port = local.rsplit(":", 1)
        if int(port) in ours or "conmon" in line:
            found[int(port)] = addr
    assert set(found) >= ours and set(found.values()) == {"127.0.0.1"}, found
    for pod in cluster.pod_names():
        info = json.loads(subprocess.run(["podman", "pod", "inspect", pod], capture_output=True, text=True,
                                         check=True, env=_podman_env(cfg)).stdout)
        for c in info["Containers"]:
            if c["Name"].endswith("-infra"):
                continue
            ci = json.loads(subprocess.run(["podman", "inspect", c["Id"]], capture_output=True, text=True,
                                           check=True, env=_podman_env(cfg)).stdout)[0]
            assert ci["Config"]["User"] not in ("", "0", "root", "0:0"), c["Name"]
            assert ci["HostConfig"]["NetworkMode"] != "host", c["Name"]
            assert not [m for m in ci["Mounts"] if m["Type"] == "bind" and not m["Source"].startswith(
                "/var/lib/containers/")], (c["Name"], ci["Mounts"])


def test_the_tuner_on_the_pods_with_a_gs_root(pods, first, module_dataset):
    """The tuner on the pods with a gs:// root: each round one Flink job, the trials' checkpoints in the bucket, the
    trainer taking the chosen values. (Both subtasks of a round land in one TaskManager's two slots: docs/tuner.md.)"""
    from contract.artifacts import BEST_HYPERPARAMETERS, TRIALS, unstamped
    from tests.test_tuner import TINY_TUNER
    cluster, _ = pods
    folder, tmp = module_dataset
    root, _ = first
    proc = _cli(cluster, folder, tmp, root, sets=TINY_TUNER)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_id = re.search(r"^run (\S+): succeeded", proc.stdout, re.M).group(1)
    jobs = {j["name"]: j["state"] for j in cluster.rest("jobs/overview")["jobs"]}
    assert jobs.get(f"tiny-tuner-r1-{run_id}") == "FINISHED", jobs
    bucket = f"gs://{cluster.BUCKET}/"
    read = lambda path: json.loads(_download(cluster, path[len(bucket):]))
    summary = read(f"{root}/runs/{run_id}/summary.json")
    trials = unstamped(TRIALS, read(f"{summary['artifacts']['trials']}/{TRIALS.file}"), "trials")["trials"]
    assert all(t["status"] != "failed" and t["workers"] for t in trials) and len(trials) == 3
    best = unstamped(BEST_HYPERPARAMETERS, read(f"{summary['artifacts']['best_hyperparameters']}/"
                                                f"{BEST_HYPERPARAMETERS.file}"), "best")
    assert summary["components"]["trainer"]["facts"]["tuned"] == best["values"]
    assert any("/checkpoint/" in n for n in _names(cluster, root[len(bucket):] + "/tuning/")), "no checkpoint"


def _download(cluster, name: str) -> bytes:
    base = f"http://127.0.0.1:{cluster.OBJSTORE_PORT}"
    return urllib.request.urlopen(f"{base}/download/storage/v1/b/{cluster.BUCKET}/o/"
                                  f"{urllib.parse.quote(name, safe='')}?alt=media", timeout=30).read()


def _names(cluster, prefix: str) -> list[str]:
    base = f"http://127.0.0.1:{cluster.OBJSTORE_PORT}"
    url = f"{base}/storage/v1/b/{cluster.BUCKET}/o?prefix={urllib.parse.quote(prefix, safe='')}&maxResults=5000"
    return [i["name"] for i in json.load(urllib.request.urlopen(url, timeout=30)).get("items", [])]
