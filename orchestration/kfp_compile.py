"""Compile the pipeline's tasks (a JSON file written by `python -m pipeline kubeflow`) into a Kubeflow
Pipelines v2 spec (IR YAML), which Kubeflow Pipelines and Vertex AI Pipelines run. Run by the KFP SDK's own
venv (make kfp-venv: kfp pins a `requests` our lock does not have), importing nothing of this project.

Every task is a container component on the worker image: the config (as the compiling command resolved
it) is written to /tmp/pipeline.yaml, then `python -m pipeline ...` runs; begin writes the run id to its
output parameter, every step and finish take it as an input; the edges are the tasks' upstreams.

    build/kfp/venv/bin/python orchestration/kfp_compile.py TASKS.json SPEC.yaml
"""

import json
import sys


def _component(name: str, image: str, args: list[str], config: str, makes_run_id: bool):
    """A container component for one task: the config written to the file its args name, then the CLI."""
    from kfp import dsl

    head = ["sh", "-c", 'printf %s "$0" > /tmp/pipeline.yaml && shift && exec python -m pipeline "$@"', config, "-"]
    if makes_run_id:
        def task(run_id: dsl.OutputPath(str)):
            return dsl.ContainerSpec(image=image, command=head, args=[*args, "--run-id-file", run_id])
    else:   # a default: finish runs even when a step failed (ignore_upstream_failure needs one)
        def task(run_id: str = ""):
            return dsl.ContainerSpec(image=image, command=head, args=[run_id if a == "{run_id}" else a for a in args])
    task.__name__ = name
    return dsl.container_component(task)


def compile_spec(spec: dict, output: str) -> None:
    from kfp import compiler, dsl
    made = {t["name"]: _component(t["name"], spec["image"], t["args"], spec["config"], t["name"] == spec["begin"])
            for t in spec["tasks"]}

    @dsl.pipeline(name=spec["name"], description=spec["description"])
    def pipeline():
        ran = {}
        begin = ran[spec["begin"]] = made[spec["begin"]]()
        run_id = begin.outputs["run_id"]
        for t in spec["tasks"]:
            if t["name"] == spec["begin"]:
                continue
            ran[t["name"]] = made[t["name"]](run_id=run_id).set_display_name(t["name"])
            ran[t["name"]].after(*[ran[u] for u in t["upstream"]])
            if t["name"] == spec["finish"]:
                ran[t["name"]].ignore_upstream_failure()   # finish records a failed step's run as failed

    compiler.Compiler().compile(pipeline, output)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        compile_spec(json.load(f), sys.argv[2])
