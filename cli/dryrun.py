"""Build (not submit) each Beam step's job graph on a cluster runner, fed by an earlier run's artifacts.

    python -m pipeline graph --runner dataflow [--from RUN_ID]

With Dataflow this uses --dry_run=True: the graph is built offline, without credentials. TFT creates its
temp folder while building the graph, so the temp folder is local here.
"""
from __future__ import annotations

import os
import tempfile

from cli.dag import components
from pipeline import artifacts as af
from pipeline import fs
from pipeline.packaging import with_package
from pipeline.spec import ExecContext, Params

BEAM_STEPS = ("ingest", "statistics", "transform", "evaluator")


def _latest(cfg) -> str:
    with fs.open_file(fs.join(cfg.pipeline.root, "runs", "latest")) as f:
        return f.read().strip()


def dry_run_beam_steps(cfg, from_run: str | None = None) -> dict:
    """{component: Dataflow Job (or None for runners without one)} for each Beam step."""
    from data.acquire import acquire

    run_id = from_run or _latest(cfg)
    summary = af.read_json(fs.join(cfg.pipeline.root, "runs", run_id, "summary.json"))
    artifacts = summary["artifacts"]
    beam_args = with_package(cfg.beam_args(), os.path.join("build", "wheels")) + ["--dry_run=True"]
    source = acquire(cfg.data)
    scratch = tempfile.mkdtemp(prefix="dryrun-")
    jobs: dict = {}
    for spec in components(cfg):
        if spec.name not in BEAM_STEPS:
            continue
        inputs = {n: (source.location if n == "raw_data" else artifacts[n]) for n in spec.inputs}
        outputs = {n: os.path.join(scratch, spec.name, n) for n in spec.outputs}
        ctx = ExecContext(run_id=f"dryrun-{run_id}", run_dir=scratch, params=Params(spec.declared_params(cfg)),
                          beam_args=tuple(beam_args),
                          input_properties={"raw_data": source.as_properties()}, temp_dir=os.path.join(scratch, spec.name, ".tmp"), jobs=jobs,
                          component=spec.name, dataset=cfg.data.dataset)
        spec.load_executor()(ctx, inputs, outputs)
    return jobs


def describe(jobs: dict) -> str:
    lines = []
    for name, job in jobs.items():
        if job is None:
            lines.append(f"{name}: built (this runner returns no job description)")
            continue
        envs = job.proto_pipeline.components.environments.values()
        transforms = len(job.proto_pipeline.components.transforms)
        images = sorted({_docker_image(e) for e in envs} - {""})
        packages = sorted({os.path.basename(_artifact_path(a)) for e in envs for a in e.dependencies} - {""})
        lines.append(f"{name}: {transforms} transforms; images {images}; packages {packages}")
    return "\n".join(lines)


def _artifact_path(artifact) -> str:
    from apache_beam.portability.api import beam_runner_api_pb2
    if artifact.type_urn != "beam:artifact:type:file:v1":
        return ""
    return beam_runner_api_pb2.ArtifactFilePayload.FromString(artifact.type_payload).path


def _docker_image(env) -> str:
    from apache_beam.portability.api import beam_runner_api_pb2
    if env.urn != "beam:env:docker:v1":
        return ""
    return beam_runner_api_pb2.DockerPayload.FromString(env.payload).container_image
