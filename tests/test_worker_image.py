"""The worker image's recipe and its settings, without building it (tests/test_container.py runs it)."""
import os
import re

import pytest

from cli.config import load_config
from ops import podman_service, worker_image
from ops.flink import ClusterError
from tests.test_e2e import REPO

CFG = load_config(os.path.join(REPO, "pipeline.yaml"))


def _profile(name: str) -> dict:
    args = load_config(os.path.join(REPO, "pipeline.yaml"), [f"beam.runner={name}"]).beam_args()
    return dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)


def test_every_profile_names_the_image_that_make_worker_image_builds():
    built = CFG.worker.image                                   # localhost/mnist-lstm-worker:0.1.0
    assert _profile("flink-docker")["environment_config"] == built
    assert _profile("flink-docker")["environment_type"] == "DOCKER"
    name = built.split("/")[-1]                                # pushed under a registry of yours
    assert _profile("dataflow")["sdk_container_image"].endswith("/" + name)
    assert _profile("flink-cluster")["environment_config"].endswith("/" + name)


def test_build_context_holds_what_the_recipe_copies_and_mounts():
    recipe = open(os.path.join(REPO, "docker", "Dockerfile")).read()
    named = set(re.findall(r"(?:source=|COPY )(build/worker/[\w.-]+)", recipe))
    assert named == {"build/worker/wheels", "build/worker/project", "build/worker/boot"}
    ignore = [line.strip() for line in open(os.path.join(REPO, ".dockerignore")) if line.strip()[:1] not in ("", "#")]
    assert ignore[0] == "*"                                    # nothing else (not .venv, not build/flink)
    assert {p[1:] for p in ignore[1:]} == named
    assert 'ENTRYPOINT ["/opt/apache/beam/boot"]' in recipe    # Beam's container contract


def test_podman_settings_share_the_checkout_and_use_runc(tmp_path):
    import dataclasses
    section = dataclasses.replace(CFG.worker, home=str(tmp_path / "w"), shared_paths=(".", str(tmp_path / "d")))
    env = worker_image.podman_env(section)
    text = open(env["CONTAINERS_CONF"]).read()
    assert env["CONTAINERS_CONF"].startswith(str(tmp_path))
    real = os.path.realpath(REPO)
    assert f'"{real}:{real}"' in text and f'"{tmp_path}/d:{tmp_path}/d"' in text
    assert 'runtime = "runc"' in text and "nofile=20000:20000" in text
    assert podman_service.docker_env(section)["DOCKER_HOST"] == f"unix://{tmp_path}/w/podman.sock"


def test_a_root_the_containers_cannot_see_is_refused_before_any_step(tmp_path, monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(podman_service, "_taskmanager_env", lambda cfg: None)   # no local cluster needed
    cfg = load_config(os.path.join(REPO, "pipeline.yaml"), [f"pipeline.root={tmp_path}/root"])
    args = ["--runner=FlinkRunner", "--flink_master=localhost:8081", "--environment_type=DOCKER",
            f"--environment_config={CFG.worker.image}"]
    with pytest.raises(ClusterError, match=r"pipeline.root .*/root is not under a folder the worker containers"):
        podman_service.preflight(cfg, args)
    inside = load_config(os.path.join(REPO, "pipeline.yaml"), [f"pipeline.root={REPO}/build/some-root"])
    podman_service.preflight(inside, args)                    # under the checkout: fine
    elsewhere = args[:1] + ["--flink_master=jobmanager.example:8081"] + args[2:]
    podman_service.preflight(cfg, elsewhere)                  # another cluster: its shared storage, not ours


def test_unknown_worker_key_is_an_error_with_a_suggestion(tmp_path):
    from pipeline.config import ConfigError
    with pytest.raises(ConfigError, match="shared_path.*shared_paths"):
        load_config(os.path.join(REPO, "pipeline.yaml"), ["worker.shared_path=/x"])
