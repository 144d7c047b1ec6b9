"""A step in its own process (pipeline/isolated.py): it runs elsewhere, its facts and errors come back as
they would in process, it dies with the pipeline process, and on a cluster it runs in line.

    python -m pytest tests/test_isolated.py
"""
import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from data.idx import IdxError
from pipeline.isolated import REPO, call_executor
from pipeline.spec import ComponentSpec, ExecContext, Params

LOCAL = ("--runner=FnApiRunner",)


def writes_and_reports(ctx, inputs, outputs):
    with open(os.path.join(outputs["out"], "part.txt"), "w") as f:
        f.write(open(inputs["examples"]).read().upper())
    ctx.external_outputs["elsewhere"] = outputs["out"]
    return {"pid": os.getpid(), "rows": ctx.params.rows}


def fails(ctx, inputs, outputs):
    raise IdxError(inputs["examples"], 16, "expected 784 pixels, found 12")   # its __init__ is not (message,)


def sleeps(ctx, inputs, outputs):
    with open(os.path.join(outputs["out"], "pid"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(120)


def ticks(ctx, inputs, outputs):
    from pipeline import console
    console.expect("step", 3, "chunks")
    for i in range(3):
        console.tick("step", 1, f"chunk\t{i}")     # a tab in the text must not tear the line
    return {}


def waits_for_meanwhile(ctx, inputs, outputs):
    ready = os.path.join(outputs["out"], "ready")
    deadline = time.time() + 60
    while not os.path.exists(ready):
        if time.time() > deadline:
            raise RuntimeError("meanwhile never ran while this step ran")
        time.sleep(0.05)
    return {"saw": open(ready).read()}


def ingests(ctx, inputs, outputs):
    from components.ingest.executor import run
    return run(ctx, inputs, outputs) | {"tensorflow": "tensorflow" in sys.modules}


def _spec(executor, process=True):
    return ComponentSpec(name="step", inputs=("examples",), outputs=("out",), params=lambda cfg: {},
                         executor=f"tests.test_isolated:{executor}", background=process, process=process)


def _ctx(tmp_path, beam_args=LOCAL):
    return ExecContext(run_id="r", run_dir=str(tmp_path), params=Params({"rows": 3}), beam_args=beam_args,
                       temp_dir=str(tmp_path / "tmp"), component="step")


@pytest.fixture
def io(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "in.txt").write_text("abc")
    return {"examples": str(tmp_path / "in.txt")}, {"out": str(tmp_path / "out")}


def test_the_executor_runs_in_another_process_and_its_facts_come_back(tmp_path, io):
    ctx = _ctx(tmp_path)
    facts = call_executor(_spec("writes_and_reports"), ctx, *io)
    assert facts["rows"] == 3 and facts["pid"] != os.getpid()
    assert (tmp_path / "out" / "part.txt").read_text() == "ABC"           # it wrote where the runner said
    assert ctx.external_outputs == {"elsewhere": io[1]["out"]}


def test_in_process_where_the_spec_does_not_ask_for_its_own(tmp_path, io):
    assert call_executor(_spec("writes_and_reports", process=False), _ctx(tmp_path), *io)["pid"] == os.getpid()
    remote = _ctx(tmp_path, ("--runner=FlinkRunner",))                    # a cluster's workers: in line
    assert call_executor(_spec("writes_and_reports"), remote, *io)["pid"] == os.getpid()


class _Recorder:
    def __init__(self):
        self.seen = []

    def expect(self, step, total, unit):
        self.seen.append(("expect", step, total, unit))

    def tick(self, step, n=1, detail=""):
        self.seen.append(("tick", step, n, detail))


def test_progress_from_the_child_reaches_the_pipeline_process_console(tmp_path, io, monkeypatch):
    from pipeline import console
    shown = _Recorder()
    monkeypatch.setattr(console, "_current", shown)
    call_executor(_spec("ticks"), _ctx(tmp_path), *io)
    assert shown.seen == [("expect", "step", 3, "chunks")] + [("tick", "step", 1, f"chunk {i}") for i in range(3)]


def test_meanwhile_runs_in_this_process_while_the_child_works(tmp_path, io):
    ready = os.path.join(io[1]["out"], "ready")
    facts = call_executor(_spec("waits_for_meanwhile"), _ctx(tmp_path), *io,
                          meanwhile=lambda: open(ready, "w").write(str(os.getpid())))
    assert facts["saw"] == str(os.getpid())      # the child waited for work done by the pipeline process


def test_a_failure_meanwhile_does_not_fail_the_step(tmp_path, io, caplog):
    def broken():
        raise ImportError("no module named nowhere")
    facts = call_executor(_spec("writes_and_reports"), _ctx(tmp_path), *io, meanwhile=broken)
    assert facts["rows"] == 3
    time.sleep(0.2)
    assert "no module named nowhere" in caplog.text


def test_ingest_in_its_own_process_never_imports_tensorflow(tiny_dataset, tmp_path):
    from cli.config import load_config
    from components.ingest.component import SPEC
    from data.acquire import acquire
    from tests.test_e2e import tiny_overrides
    cfg = load_config(os.path.join(REPO, "pipeline.yaml"), tiny_overrides(str(tmp_path / "root"), tiny_dataset[1]))
    ctx = ExecContext(run_id="r", run_dir=str(tmp_path), params=Params(SPEC.declared_params(cfg)), beam_args=LOCAL,
                      input_properties={"raw_data": acquire(cfg.data).as_properties()}, temp_dir=str(tmp_path / "tmp"), component="ingest")
    spec = dataclasses.replace(SPEC, executor="tests.test_isolated:ingests")
    facts = call_executor(spec, ctx, {}, {"examples": str(tmp_path / "examples")})
    assert sum(facts["records"].values()) == 320 and facts["tensorflow"] is False


def test_an_error_comes_back_with_its_type_and_message(tmp_path, io):
    with pytest.raises(IdxError, match=r"in\.txt: at byte 16: expected 784 pixels, found 12") as raised:
        call_executor(_spec("fails"), _ctx(tmp_path), *io)
    assert raised.value.offset == 16 and raised.value.path == io[0]["examples"]


def test_on_a_cluster_a_step_of_its_own_process_runs_in_this_one(tmp_path, io):
    """Where the workers are not local the executor runs in this process (a background step in a thread of
    it), so that its Beam job is submitted beside the next step's (issue #42)."""
    ctx = _ctx(tmp_path, beam_args=("--runner=FlinkRunner", "--flink_master=localhost:8081"))
    facts = call_executor(_spec("writes_and_reports"), ctx, *io)
    assert facts["pid"] == os.getpid()


def test_the_child_dies_with_the_pipeline_process(tmp_path, io):
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {REPO!r})
        from pathlib import Path
        from tests.test_isolated import _ctx, _spec
        from pipeline.isolated import call_executor
        call_executor(_spec("sleeps"), _ctx(Path({str(tmp_path)!r})), *{io!r})
    """)
    parent = subprocess.Popen([sys.executable, "-c", script])
    pid_file = tmp_path / "out" / "pid"
    for _ in range(300):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.1)
    child = int(pid_file.read_text())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    for _ in range(100):
        if not _alive(child):
            break
        time.sleep(0.05)
    assert not _alive(child), "the step's process outlived the pipeline process"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
