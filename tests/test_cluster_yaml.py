"""The pod cluster's YAML, read without podman (runs in make test): what it publishes, who it runs as, and
that it agrees with ops/cluster.py, the flink-pods profile and Flink's own Java options."""
import os
import zipfile

import pytest
import yaml

from cli.config import load_config
from ops import cluster
from tests.test_e2e import REPO


def _docs():
    return [d for path in cluster.YAMLS.values() for d in yaml.safe_load_all(open(path))]


def _pod_specs():
    for doc in _docs():
        if doc["kind"] == "Pod":
            yield doc["metadata"]["name"], doc["spec"]
        elif doc["kind"] == "Deployment":
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def test_every_port_is_published_on_loopback_only_and_nothing_runs_as_root():
    published = set()
    for name, spec in _pod_specs():
        assert not spec.get("hostNetwork") and not spec.get("hostPID"), name
        assert not [v for v in spec.get("volumes", []) if "hostPath" in v], name
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] and sc["runAsUser"] > 0 and not sc["allowPrivilegeEscalation"], c["name"]
            assert sc["capabilities"]["drop"] == ["ALL"], c["name"]
            for p in c.get("ports", []):
                assert p["hostIP"] == "127.0.0.1", (name, p)
                published.add(p["hostPort"])
    assert published == {cluster.REST_PORT, cluster.JOB_PORT, cluster.JOB_PORT - 1, cluster.OBJSTORE_PORT}


def test_the_yaml_the_profile_and_ops_agree():
    cfg = load_config(os.path.join(REPO, "pipeline.yaml"))
    profile = cfg.beam.profiles["flink-pods"]
    assert f"--flink_master=localhost:{cluster.REST_PORT}" in profile
    assert f"--job_endpoint=localhost:{cluster.JOB_PORT}" in profile
    images = {c["image"] for _, spec in _pod_specs() for c in spec["containers"]}
    assert images == {cluster.FLINK_IMAGE, cluster.OBJSTORE_IMAGE, cfg.worker.image}
    (tm,) = [d for d in _docs() if d["kind"] == "Deployment"]
    assert tm["spec"]["replicas"] == cluster.TASKMANAGERS
    sidecar = [c for c in tm["spec"]["template"]["spec"]["containers"] if c["name"] == "beam-worker-pool"][0]
    assert sidecar["command"][sidecar["command"].index("--port") + 1] == profile_port(profile)
    conf = yaml.safe_load([d for d in _docs() if d["kind"] == "ConfigMap"][0]["data"]["config.yaml"])
    assert conf["rest.port"] == cluster.REST_PORT and conf["jobmanager.execution.failover-strategy"] == "region"


def profile_port(profile) -> str:
    (config,) = [a for a in profile if a.startswith("--environment_config=")]
    return config.rsplit(":", 1)[1]


def test_flinks_java_options_are_the_distributions():
    shipped = os.path.join(REPO, "build", "flink", "flink-1.19.3", "conf", "config.yaml")
    if not os.path.exists(shipped):
        pytest.skip("the Flink distribution is fetched by make flink-fetch")
    conf = yaml.safe_load([d for d in _docs() if d["kind"] == "ConfigMap"][0]["data"]["config.yaml"])
    assert conf["env.java.opts.all"] == yaml.safe_load(open(shipped))["env"]["java"]["opts"]["all"]


def test_every_flink_key_is_one_flink_knows():
    """Flink ignores a key it does not know without a word: a misspelt restart strategy would mean none."""
    jar = os.path.join(REPO, "build", "flink", "flink-1.19.3", "lib", "flink-dist-1.19.3.jar")
    if not os.path.exists(jar):
        pytest.skip("the Flink distribution is fetched by make flink-fetch")
    with zipfile.ZipFile(jar) as z:
        known = b"".join(z.read(n) for n in z.namelist()
                         if n.startswith("org/apache/flink/configuration/") and n.endswith("Options.class"))
    conf = yaml.safe_load([d for d in _docs() if d["kind"] == "ConfigMap"][0]["data"]["config.yaml"])
    assert b"restart-strategy.type" in known and b"restart-strategy.tpye" not in known
    assert [k for k in conf if k.encode() not in known] == []


def test_the_runner_starts_a_worker_pool_only_for_its_own_flink():
    from ops.workers import pool_port
    cfg = load_config(os.path.join(REPO, "pipeline.yaml"))
    assert pool_port(cfg.beam.profiles["flink"], cfg.flink.rest_port) == 50000         # this machine's TaskManager
    assert pool_port(cfg.beam.profiles["flink-pods"], cfg.flink.rest_port) is None     # the pods' sidecars
    assert pool_port(cfg.beam.profiles["portable"], cfg.flink.rest_port) == 50000
