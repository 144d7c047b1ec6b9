"""A step's executor in a child Python process of its own (ComponentSpec.process).

A background step in a thread shares the pipeline process's GIL with the step beside it: both are mostly
Python, so on two cores they take turns instead of running at once (docs/performance.md
"What changed, and what it did", 2026-12-03). In a child process the background step gets the other core. The child receives the
step's ExecContext, inputs and outputs, runs the executor and sends back its facts, or its exception. What
it writes goes to the staging folders the runner gave it, so publishing, caching and records stay the
runner's, as for any step. Only for runners whose workers are local (the in-process runner): on a cluster
the driver does little, and the runner's watch of remote workers lives in the pipeline process.

Its progress (console.expect and tick) comes back down a pipe to the pipeline process's console. While
a step that is not in the background runs in its child, the pipeline process's main thread has nothing
to do: `meanwhile` (the runner's import of the next in-process step's executor: after ingest, transform's
TensorFlow, Beam and TFT) runs then, on the core the child leaves idle.

The child dies with the pipeline process (PR_SET_PDEATHSIG), and a fault point reached in the child kills
the pipeline process too (pipeline/faults.py), so a kill behaves as it does for a step in the process.

Measured gain (`python bench/machinery.py --only isolated --rounds 3`, 2026-12-04 17:37, AMD EPYC, avx2
fma, 1% stolen): the e2e run's wall less its trainer was 44.5, 44.0 and 46.4 s with ingest and statistics in
their own processes, 50.5, 55.0 and 53.4 s with every step in line (8.0 s saved on average), with the same
peak within 0.02 GB and the same accuracy. The whole wall is no measure of it: model.fit's own time moved
by 15 s between identical runs (pairs of walls differed by -5.3 to +6.7 s).

    python -m pipeline.isolated REQUEST.pickle    # started by the runner, not by hand
"""
from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading

from pipeline import console
from pipeline.faults import PARENT

log = logging.getLogger(__name__)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PR_SET_PDEATHSIG = 1
PROGRESS_FD = "PIPELINE_PROGRESS_FD"


def call_executor(spec, ctx, inputs: dict, outputs: dict, meanwhile=None) -> dict:
    """The executor's facts, from a child process when spec.process allows it here, else in this one.
    meanwhile: called in a thread of this process while the child runs, or while a cluster runs the step's job
    (its errors are only logged)."""
    if not (spec.process and ctx.workers_are_local and not ctx.dry_run):
        if meanwhile is not None and not ctx.workers_are_local and not ctx.dry_run:
            # On a cluster this thread mostly waits for the step's job: the next step's imports overlap it
            # (transform's TensorFlow and TFT took 2.1 s of its submission after ingest; docs/flink.md).
            threading.Thread(target=_quietly, args=(meanwhile, spec.name), name=f"meanwhile-{spec.name}",
                             daemon=True).start()
        return spec.load_executor()(ctx, inputs, outputs) or {}
    with tempfile.TemporaryDirectory(prefix=f"step-{spec.name}-") as tmp:
        request, result = os.path.join(tmp, "request.pickle"), os.path.join(tmp, "result.pickle")
        with open(request, "wb") as f:
            pickle.dump({"executor": spec.executor, "ctx": dataclasses.replace(ctx, watch=None),
                         "inputs": inputs, "outputs": outputs, "result": result}, f)
        progress, sender = os.pipe()
        env = dict(os.environ, **{PARENT: str(os.getpid()), PROGRESS_FD: str(sender)},
                   PYTHONPATH=os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p))
        try:
            child = subprocess.Popen([sys.executable, "-m", "pipeline.isolated", request], env=env,
                                     pass_fds=(sender,))
        except BaseException:
            os.close(progress)
            raise
        finally:
            os.close(sender)      # the child holds the only writer: the reader sees the end when it ends
        shown = threading.Thread(target=_show_progress, args=(progress,), name=f"progress-{spec.name}", daemon=True)
        shown.start()
        if meanwhile is not None:
            threading.Thread(target=_quietly, args=(meanwhile, spec.name), name=f"meanwhile-{spec.name}",
                             daemon=True).start()
        try:
            code = child.wait()
        except BaseException:     # Ctrl-C or a failure of the step beside: the child's work is not wanted
            child.kill()
            child.wait()
            raise
        finally:
            shown.join(timeout=5)
        return _answer(spec.name, ctx, code, result)


def _show_progress(fd: int) -> None:
    with os.fdopen(fd) as lines:
        for line in lines:
            try:
                console.replay(line)
            except ValueError:    # a torn line: progress is for people, never a reason to fail
                log.debug("progress line not understood: %r", line)


def _quietly(work, name: str) -> None:
    try:
        work()
    except Exception as e:        # what it prepares is done again, with the real error, where it is needed
        log.warning("while %s ran in its own process, preparing the next steps failed: %s", name, e)


def _answer(name: str, ctx, code: int, result: str) -> dict:
    if not os.path.exists(result):
        raise RuntimeError(f"step {name}: its process ended with exit status {code} and no result")
    with open(result, "rb") as f:
        got = pickle.load(f)
    if "error" in got:
        # the log file keeps the trace; the console gets the one error line of the re-raised exception
        log.info("step %s failed in its own process:\n%s", name, got["trace"])
        raise _rebuild(*got["error"])
    ctx.external_outputs.update(got["external_outputs"])
    ctx.jobs.update(got["jobs"])
    return got["facts"]


def die_with_parent(parent: int) -> None:
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:    # the parent died before the line above: nobody waits for this work
        os._exit(1)


def _error(e: BaseException) -> tuple:
    """What rebuilds e in the pipeline process, with its type (the CLI names errors by type): its class,
    args and attributes, without calling its __init__ (whose parameters need not be its args)."""
    try:
        got = (type(e), e.args, dict(vars(e)))
        pickle.loads(pickle.dumps(got))
        return got
    except Exception:   # a class or an attribute that cannot travel: its text still does
        return RuntimeError, (f"{type(e).__name__}: {e}",), {}


def _rebuild(cls, args, state) -> BaseException:
    error = cls.__new__(cls, *args)
    error.args = args
    vars(error).update(state)
    return error


def main(request_path: str) -> int:
    die_with_parent(int(os.environ[PARENT]))
    if os.environ.get(PROGRESS_FD):
        console.relay_to(int(os.environ[PROGRESS_FD]))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with open(request_path, "rb") as f:
        req = pickle.load(f)
    ctx = req["ctx"]
    module, _, fn = req["executor"].partition(":")
    try:
        import importlib
        facts = getattr(importlib.import_module(module), fn)(ctx, req["inputs"], req["outputs"]) or {}
        got = {"facts": facts, "external_outputs": ctx.external_outputs, "jobs": ctx.jobs}
    except BaseException as e:
        import traceback
        got = {"error": _error(e), "trace": traceback.format_exc()}
    with open(req["result"], "wb") as f:
        pickle.dump(got, f)
    return 0


if __name__ == "__main__":
    from pipeline.shutdown import end_process
    end_process(main(sys.argv[1]))   # without the interpreter's teardown of TensorFlow and Beam (seconds)
