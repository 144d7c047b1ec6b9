"""The Flink cluster in pods: k8s/flink.yaml (a JobManager pod with Beam's job server, two TaskManager pods
each with the warm SDK worker pool as a sidecar) and the object store of k8s/objstore.yaml, run here with
`podman kube play` on a podman network of their own. No host path is mounted, no container is root or on
the host network; the REST API, the job server and the object store are published on 127.0.0.1 only.
`down` removes what `up` recorded in build/cluster/state.json: the YAMLs' pods and the network.

    python -m pipeline cluster images | up | down | status | env    # make cluster-up / cluster-down / ...
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
import urllib.request

import yaml

from contract.errors import PipelineError
from ops import gcs
from ops.flink import port_open

log = logging.getLogger(__name__)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOME = os.path.join(ROOT, "build", "cluster")
NETWORK = "mnist-lstm-cluster"
YAMLS = {"objstore": os.path.join(ROOT, "k8s", "objstore.yaml"), "flink": os.path.join(ROOT, "k8s", "flink.yaml")}
FLINK_IMAGE, OBJSTORE_IMAGE = "localhost/mnist-lstm-flink:1.19.3", "localhost/mnist-lstm-objstore:1.56.1"
REST_PORT, JOB_PORT, OBJSTORE_PORT = 18081, 18099, 18090   # the hostPorts of the YAMLs
BUCKET = "pipeline"
TASKMANAGERS = 2


class ClusterUpError(PipelineError, RuntimeError):
    """The pod cluster could not be built or started."""


def _podman(worker, *args, check=True) -> subprocess.CompletedProcess:
    from ops import worker_image
    return worker_image.podman(worker, *args, check=check)


def _context(name: str, files: dict[str, str]) -> str:
    """A build context of hard links (or copies) of what the image needs, nothing else."""
    ctx = os.path.join(HOME, f"{name}-context")
    shutil.rmtree(ctx, ignore_errors=True)
    for dst, src in files.items():
        target = os.path.join(ctx, dst)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        copy = lambda s, d: shutil.copy2(s, d) if not _link(s, d) else None  # noqa: E731
        if os.path.isdir(src):
            shutil.copytree(src, target, copy_function=copy)
        else:
            copy(src, target)
    return ctx


def _link(src: str, dst: str) -> bool:
    try:
        os.link(src, dst)
        return True
    except OSError:
        return False


def images(cfg) -> list[str]:
    """The three images, each built when missing or when its inputs changed (podman's layer cache)."""
    from ops import flink_dist, worker_image
    worker_image.build(cfg.worker)          # also the debootstrap base the other two start from
    flink_home, job_server = flink_dist.fetch(cfg.flink.home)
    # Flink's lib/ with the Beam runner's jars, as the local cluster has it (flink_dist.cluster_lib): a job
    # ships no jars; the job server's own main (flink/LoopbackJobServer.java) is told so
    lib = flink_dist.cluster_lib(cfg.flink.home, flink_home, job_server)
    flink = _context("flink", {**{f"flink/{d}": os.path.join(flink_home, d) for d in ("bin", "conf", "plugins")},
                               **{f"flink/lib/{n}": os.path.realpath(os.path.join(lib, n)) for n in os.listdir(lib)
                                  if n.endswith(".jar")},
                               "jobserver": os.path.join(job_server, "lib"),
                               "jobserver-main/loopback.jar": flink_dist.loopback_jar(cfg.flink.home, job_server)})
    store = _context("objstore", {"fake-gcs-server": gcs.fetch(),
                                  "ops/__init__.py": os.path.join(ROOT, "ops", "__init__.py"),
                                  "ops/gcs_front.py": os.path.join(ROOT, "ops", "gcs_front.py")})
    for image, recipe, ctx in ((FLINK_IMAGE, "flink.Dockerfile", flink), (OBJSTORE_IMAGE, "objstore.Dockerfile", store)):
        start = time.monotonic()
        _podman(cfg.worker, "build", "-q", "--layers", "--build-arg", f"BASE={cfg.worker.base}",
                "-f", os.path.join(ROOT, "docker", recipe), "-t", image, ctx)
        log.info("image %s ready (%.0f s)", image, time.monotonic() - start)
    return [cfg.worker.image, FLINK_IMAGE, OBJSTORE_IMAGE]


def _configmaps() -> dict[str, str]:
    """The object store's throwaway TLS and credentials as ConfigMaps (for podman kube play --configmap),
    and the same credentials for this machine's clients (env())."""
    from ops.tls import make_service_account, make_tls
    tls = make_tls(os.path.join(HOME, "tls"), gcs.TLS_HOSTS)
    make_service_account(os.path.join(HOME, "service-account.json"), f"http://127.0.0.1:{OBJSTORE_PORT}/token",
                         gcs.PROJECT)
    in_pods = make_service_account(os.path.join(HOME, "pod-service-account.json"),
                                   f"http://objstore:{OBJSTORE_PORT}/token", gcs.PROJECT)
    maps = {"objstore-tls": {"front.pem": tls["cert"], "front-key.pem": tls["key"]},
            "objstore-client": {"ca.pem": tls["ca"], "service-account.json": in_pods}}
    paths = {}
    for name, files in maps.items():
        paths[name] = os.path.join(HOME, f"{name}.yaml")
        doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
               "data": {k: open(v).read() for k, v in files.items()}}
        with open(paths[name], "w") as f:
            yaml.safe_dump(doc, f)
    return paths


def pod_names() -> list[str]:
    """The pods the YAMLs describe, as podman names them (a Deployment's replicas: NAME-pod-0, -1, ...)."""
    names = []
    for path in YAMLS.values():
        for doc in yaml.safe_load_all(open(path)):
            if doc["kind"] == "Pod":
                names.append(doc["metadata"]["name"])
            elif doc["kind"] == "Deployment":
                names += [f"{doc['metadata']['name']}-pod-{i}" for i in range(doc["spec"].get("replicas", 1))]
    return names


def named_volumes() -> list[str]:
    """The volumes podman makes for the YAMLs' pods and keeps after `kube down`: one per ConfigMap volume
    (named as the ConfigMap) and one per PersistentVolumeClaim (named as the claim)."""
    found = set()
    for path in YAMLS.values():
        for doc in yaml.safe_load_all(open(path)):
            if doc["kind"] == "PersistentVolumeClaim":
                found.add(doc["metadata"]["name"])
            spec = doc.get("spec", {})
            spec = spec.get("template", {}).get("spec", spec)
            found |= {v["configMap"]["name"] for v in spec.get("volumes", []) if "configMap" in v}
    return sorted(found)


def _state() -> dict:
    path = os.path.join(HOME, "state.json")
    return json.load(open(path)) if os.path.exists(path) else {}


def _save(state: dict) -> None:
    os.makedirs(HOME, exist_ok=True)
    with open(os.path.join(HOME, "state.json.tmp"), "w") as f:
        json.dump(state, f, indent=1)
    os.replace(os.path.join(HOME, "state.json.tmp"), os.path.join(HOME, "state.json"))


def up(cfg, timeout_s: float = 180.0) -> dict:
    """Build what is missing, play the YAMLs, wait until Flink has its TaskManagers, the job server answers
    and the bucket exists. Refuses to adopt pods it did not create."""
    if _state():
        return status_overview(cfg) or {}
    found = [n for n in pod_names() if _podman(cfg.worker, "pod", "exists", n, check=False).returncode == 0]
    if found:
        raise ClusterUpError(f"pods {found} exist but were not started by `cluster up`: remove them first")
    images(cfg)
    maps = _configmaps()
    state = {"network": None, "played": [], "volumes": [v for v in named_volumes()
                                                         if _podman(cfg.worker, "volume", "exists", v, check=False).returncode]}
    if _podman(cfg.worker, "network", "exists", NETWORK, check=False).returncode != 0:
        _podman(cfg.worker, "network", "create", NETWORK)
        state["network"] = NETWORK
    _save(state)
    for name, path in YAMLS.items():
        args = ["kube", "play", "--network", NETWORK]
        for cm in maps.values():
            args += ["--configmap", cm]
        state["played"].append(path)
        _save(state)
        _podman(cfg.worker, *args, path)
    return _wait_ready(cfg, timeout_s)


def _wait_ready(cfg, timeout_s: float) -> dict:
    deadline, last = time.monotonic() + timeout_s, "nothing answered yet"
    while time.monotonic() < deadline:
        try:
            o = rest("overview")
            last = f"{o['taskmanagers']} TaskManager(s)"
            if o["taskmanagers"] >= TASKMANAGERS and port_open(JOB_PORT):
                gcs.create_bucket(store(), BUCKET)
                return o
        except (OSError, ValueError, gcs.StoreError) as e:
            last = str(e)
        time.sleep(2)
    raise ClusterUpError(f"the pod cluster was not ready within {timeout_s:.0f} s ({last}); "
                         "see `podman logs flink-jobmanager-jobmanager` (make cluster-status)")


def down(cfg) -> list[str]:
    """Remove what `up` recorded: the played YAMLs' pods (podman kube down), then the network."""
    state, removed = _state(), []
    for path in reversed(state.get("played", [])):
        _podman(cfg.worker, "kube", "down", path, check=False)
        removed.append(os.path.relpath(path, ROOT))
    for volume in state.get("volumes", []):   # kube down keeps ConfigMap and claim volumes
        _podman(cfg.worker, "volume", "rm", "-f", volume, check=False)
        removed.append(f"volume {volume}")
    if state.get("network"):
        _podman(cfg.worker, "network", "rm", "-f", state["network"], check=False)
        removed.append(f"network {state['network']}")
    if os.path.exists(os.path.join(HOME, "state.json")):
        os.remove(os.path.join(HOME, "state.json"))
    return removed


def rest(path: str, timeout: float = 3.0) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{REST_PORT}/{path}", timeout=timeout) as r:
        return json.load(r)


def status_overview(cfg) -> dict | None:
    try:
        return rest("overview")
    except (OSError, ValueError):
        return None


def status(cfg) -> str:
    out = _podman(cfg.worker, "pod", "ps", "--format", "{{.Name}} {{.Status}} {{.NumberOfContainers}}",
                  check=False).stdout.split("\n")
    ours = [line for line in out if line.split(" ")[0] in pod_names()]
    lines = [f"pod {line}" for line in ours] or ["no pod of k8s/*.yaml"]
    o = status_overview(cfg)
    lines.append(f"Flink at http://127.0.0.1:{REST_PORT}: {o['taskmanagers']} TaskManager(s), {o['slots-available']}/"
                 f"{o['slots-total']} slots free, {o['jobs-running']} running jobs" if o else
                 f"no Flink REST API at http://127.0.0.1:{REST_PORT}")
    lines.append(f"recorded by `cluster up`: {_state() or 'nothing'}")
    return "\n".join(lines)


def store() -> gcs.Store:
    """The pod's object store as this machine's clients reach it (its published loopback port)."""
    return gcs.Store(HOME, 0, OBJSTORE_PORT, 0, 0)


def env() -> dict[str, str]:
    return {**store().env(), "GCS_STAT_CACHE_MAX_AGE": "0"}
