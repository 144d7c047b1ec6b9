"""The pipeline as a Kubeflow Pipelines v2 spec (IR YAML) for Kubeflow Pipelines or Vertex AI Pipelines:
every task a container component on the worker image, with the config resolved into the spec. The steps run
in separate pods, so the root must be gs:// and the metadata store a PostgreSQL server they all reach.
The KFP SDK compiles it in its own venv (make kfp-venv; orchestration/kfp_compile.py).

    python -m pipeline kubeflow --output mnist_lstm.yaml --set pipeline.root=gs://B/root \
        --set pipeline.metadata=postgresql://USER@HOST/DB
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile

from orchestration.tasks import BEGIN, FINISH, REPO, resolved_yaml, tasks
from pipeline.sections import ConfigError

PYTHON = os.path.join(REPO, "build", "kfp", "venv", "bin", "python")
IN_POD = "/tmp/pipeline.yaml"   # where each component writes the config (orchestration/kfp_compile.py)


def check(cfg) -> None:
    """What pods that share nothing but the network need: a gs:// root and a metadata server."""
    if not cfg.pipeline.root.startswith("gs://"):
        raise ConfigError(f"pipeline.root {cfg.pipeline.root}: Kubeflow runs each step in its own pod; expected a "
                          f"gs:// root they all read (--set pipeline.root=gs://BUCKET/root)")
    if not (cfg.pipeline.metadata or "").startswith(("postgresql://", "postgres://")):
        raise ConfigError("pipeline.metadata: Kubeflow runs each step in its own pod; expected a PostgreSQL server "
                          "they all reach (--set pipeline.metadata=postgresql://USER@HOST:5432/DB)")


def spec_of(cfg) -> dict:
    """The tasks as kfp_compile.py reads them."""
    return {"name": cfg.orchestration.dag_id.replace("_", "-"), "image": cfg.orchestration.image or cfg.worker.image,
            "description": f"MNIST LSTM pipeline ({cfg.data.dataset}), every step a task (docs/orchestration.md)",
            "config": resolved_yaml(cfg), "begin": BEGIN, "finish": FINISH,
            "tasks": [{"name": t.name, "upstream": list(t.upstream), "args": list(t.args)}
                      for t in tasks(cfg, ("--config", IN_POD))]}


def compile_to(cfg, output: str) -> None:
    check(cfg)
    if not os.path.exists(PYTHON):
        raise ConfigError(f"{PYTHON}: the KFP SDK's venv is missing; make kfp-venv")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec_of(cfg), f)
    try:
        done = subprocess.run([PYTHON, os.path.join(REPO, "orchestration", "kfp_compile.py"), f.name, output],
                              capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if done.returncode:
        raise RuntimeError(f"the KFP compiler failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
