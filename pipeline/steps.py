"""One step of a run, as `run` and a step launched alone both run it: its inputs resolved (from this run's
record and the store), reused from the cache or executed into staging and published by rename, every
execution recorded in the metadata store, its console line and evidence.

    python -m pipeline run                               # every step in one process
    python -m pipeline step transform --run-id RUN       # one step of a begun run (docs/orchestration.md)
"""
from __future__ import annotations

import contextlib
import copy
import logging
import os
import threading
import time

from contract.errors import PipelineError
from pipeline import artifacts as af
from pipeline import console, fs
from pipeline.faults import fault_point
from pipeline.fingerprint import code_version, execution_fingerprint, library_versions
from pipeline.isolated import call_executor
from pipeline.metadata import DONE
from pipeline.packaging import workers_are_local
from pipeline.resolvers import resolve
from pipeline.spec import ExecContext, Params, StopPipeline
from pipeline.store_sql import shown as without_password

log = logging.getLogger("pipeline.runner")   # the run's log names its steps as it did before steps.py


class StepOrderError(PipelineError, RuntimeError):
    """A step launched before the steps that make its inputs."""


def _under(uri: str, root: str) -> bool:
    """uri lies below the pipeline root (local paths compared as absolute paths)."""
    absolute = (lambda p: p if fs.is_remote(p) else os.path.abspath(p))
    return absolute(uri).startswith(absolute(root).rstrip("/") + "/")


def drop_unfinished(store, final: str, by: str) -> None:
    """Remove an output folder that no finished execution published (a kill between the move into place and
    the execution's record), and forget its artifact if it was recorded on the way."""
    art = store.artifact(final)
    if art and art["producer"] and (store.execution(art["producer"]) or {}).get("status") not in DONE:
        store.forget_artifact(art["id"])
        art = None
    if fs.exists(final) and art is None:
        log.warning("removing %s: left unfinished by %s", final, by)
        af.discard(final)


class Run:
    """One pipeline run: the state shared by its component steps. `run` holds one for all its steps; a step
    launched alone (an orchestrator's task) opens one from the run's record (pipeline/runner.py open_run) and
    runs its step through the same step(): one code path."""

    def __init__(self, cfg, beam_args, store, run_id, no_cache=False, invalidate=(), alone=False):
        self.cfg, self.beam_args, self.store, self.run_id = cfg, beam_args, store, run_id
        self.no_cache, self.invalidate = no_cache, set(invalidate)
        self.alone = alone                 # its steps run as separate processes: save() merges, under the store's lock
        self.mine: set = set()             # the steps this process ran
        self.run_dir = fs.join(cfg.pipeline.root, "runs", run_id)
        self.summary_path = fs.join(self.run_dir, "summary.json")
        self.summary = {"run_id": run_id, "status": "running", "dataset": cfg.data.dataset,
                        "config": cfg.as_dict(), "beam_args": beam_args, "versions": library_versions(),
                        "components": {}, "artifacts": {}, "metadata": without_password(store.path)}
        self.produced: dict = {}
        self.facts: dict = {}             # each step's small facts (counts, headline metrics), for the summary
        self.watch = None                  # set while the run's services serve it (Services.serving)
        self.specs: list = []              # the steps as placed for this run's runner
        # A background step runs beside the main thread's: the bookkeeping (summary, store, produced) is
        # done under this lock; executors run outside it.
        self.lock = threading.RLock()

    def save(self, last: bool = False):
        if not self.alone:
            af.write_json(self.summary_path, self.summary, in_place_if_full=last)
            return
        with self.store.run_lock(self.run_id):   # another task of this run may be saving its step right now
            on_disk = af.read_json(self.summary_path)
            on_disk["components"].update({n: self.summary["components"][n] for n in self.mine})
            on_disk["artifacts"].update(self.summary["artifacts"])
            # the rest only begin and finish write, one process each
            on_disk.update({k: v for k, v in self.summary.items() if k not in ("components", "artifacts")})
            self.summary = on_disk
            af.write_json(self.summary_path, on_disk, in_place_if_full=last)

    def step(self, spec) -> None:
        with self.lock:
            self._step(spec)

    @contextlib.contextmanager
    def _unlocked(self):
        self.lock.release()
        try:
            yield
        finally:
            self.lock.acquire()

    def _step(self, spec) -> None:
        log.info("=== %s%s", spec.name, " (in the background)" if spec.background else "")
        missing = [n for n in spec.inputs if n not in self.produced]
        if missing:
            raise StepOrderError(f"step {spec.name} of run {self.run_id}: its input {missing[0]} is not there yet; "
                                 f"run {self.producer_of(missing[0])} first")
        self.mine.add(spec.name)
        if self.alone:
            self._sweep(spec)
        entry = self.summary["components"][spec.name] = {"status": "running"}
        self.save()
        inputs = {name: self.produced[name] for name in spec.inputs}
        for name in spec.optional_inputs:
            found = resolve(spec.optional_inputs[name], self.store, self.cfg.data.dataset, self.run_id,
                            self.produced)
            entry[name] = found["uri"] if found else None
            if found:
                inputs[name] = found
        params = spec.declared_params(self.cfg, tuple(inputs))
        code = code_version(spec.code_modules())
        fp = execution_fingerprint(spec.name, code, params, {n: a["digest"] for n, a in inputs.items()})
        exe = self.store.start_execution(self.run_id, spec.name, fp, code, params, {n: a["id"] for n, a in inputs.items()})
        start = time.perf_counter()
        shown = console.current()
        if shown:
            shown.step_start(spec.name)
        try:
            if not self._reuse(spec, exe, fp, entry):
                self._execute(spec, exe, inputs, entry, fp, params)
        except BaseException as e:
            self.store.finish_execution(exe, "failed", error=f"{type(e).__name__}: {e}")
            entry.update(status="failed", seconds=round(time.perf_counter() - start, 2))
            if self.alone:   # `run` records its end in one place; a task records its own step's
                self.save()
            if shown:
                shown.step_end(spec.name, "failed", entry["seconds"], f"{type(e).__name__}")
            raise
        entry["seconds"] = round(time.perf_counter() - start, 2)
        entry["headline"] = spec.headline_of(entry.get("facts"))   # for the console and a failed run's report
        if shown:
            shown.step_end(spec.name, entry["status"], entry["seconds"], entry["headline"])
        entry["fingerprint"] = fp
        self.summary["artifacts"].update({o: a["uri"] for o, a in self.produced.items() if o != "raw_data"})
        self.save()
        reason = (self.facts.get(spec.name) or {}).get("stop_reason")
        if reason:  # cached or not: the same data stops the same way
            raise StopPipeline(f"{spec.name}: {reason}")

    def _sweep(self, spec) -> None:
        """Before a step launched alone runs again (a retry of a killed or failed task): what its earlier
        attempt in this run left (its staging, an output moved into place but never recorded) is removed,
        and an attempt still recorded as running is recorded as killed."""
        for name in fs.listdir(fs.join(self.run_dir, ".staging")):
            if name.startswith(f"{spec.name}-"):
                af.discard(fs.join(self.run_dir, ".staging", name))
        for name in spec.outputs:
            drop_unfinished(self.store, fs.join(self.run_dir, spec.name, name), f"an earlier attempt of {spec.name}")
        self.store.abandon_executions(self.run_id, spec.name, "an earlier attempt ended before it finished")

    def _reuse(self, spec, exe, fp, entry) -> bool:
        if not spec.cacheable or self.no_cache or spec.name in self.invalidate:
            return False
        prev = self.store.cached(fp)
        if not prev:
            return False
        outputs = self.store.events(prev["id"], "output")
        if not all(_under(outputs[n]["uri"], self.cfg.pipeline.root) for n in spec.outputs if n in outputs):
            # a store shared by two roots: the other root's files may not be where this run's workers read
            log.info("%s: the cached execution %s wrote under another pipeline root; running it here", spec.name,
                     prev["id"])
            return False
        if not set(spec.outputs) <= set(outputs) or not all(fs.exists(a["uri"]) for a in outputs.values()):
            log.warning("%s: cached outputs of execution %s are gone; running it again", spec.name, prev["id"])
            return False
        self.store.finish_execution(exe, "cached", facts=prev["facts"], outputs={n: a["id"] for n, a in outputs.items()},
                                    cached_from=prev["id"])
        self.produced.update({n: {"id": a["id"], "uri": a["uri"], "digest": a["digest"]} for n, a in outputs.items()})
        self.facts[spec.name] = prev["facts"]
        entry.update(status="cached", cached_from_run=prev["run_id"], facts=prev["facts"])
        log.info("%s: cached (execution %s of run %s)", spec.name, prev["id"], prev["run_id"])
        return True

    def _for_workers(self, uri: str) -> str:
        """An input's path as the workers of a non-local runner see it: they do not share the driver's working
        folder, and an artifact of an earlier run (the evaluator's baseline model) may be recorded relative to
        it, as every artifact of a run with the default relative root is."""
        if fs.is_remote(uri) or os.path.isabs(uri) or workers_are_local(self.beam_args):
            return uri
        return os.path.abspath(uri)

    def _execute(self, spec, exe, inputs, entry, fp, params) -> None:
        staging = af.staging_dir(self.run_dir, spec.name)
        outputs = {name: fs.join(staging, name) for name in spec.outputs}
        ctx = ExecContext(run_id=self.run_id, run_dir=self.run_dir, params=Params(params), beam_args=tuple(self.beam_args),
                          input_properties={n: a["properties"] for n, a in inputs.items() if a.get("properties")},
                          temp_dir=fs.join(staging, ".tmp"), component=spec.name,
                          dataset=self.cfg.data.dataset,
                          run_record=copy.deepcopy(self.summary["components"]),
                          fingerprint=fp, watch=self.watch, pipeline_root=self.cfg.pipeline.root,
                          versions=self.summary["versions"])
        try:
            fault_point(spec.name, "start")
            with self._unlocked():
                facts = call_executor(spec, ctx, {n: self._for_workers(a["uri"]) for n, a in inputs.items()}, outputs,
                                      meanwhile=None if spec.background else self._prepare_after(spec))
            external = ctx.external_outputs  # outputs written outside the run (e.g. a pushed model)
            missing = [n for n, p in outputs.items() if not fs.exists(p)]
            if missing:
                raise RuntimeError(f"component {spec.name} did not produce its outputs {missing}")
            fault_point(spec.name, "before_publish")
            published = {}
            for name, path in outputs.items():
                final = fs.join(self.run_dir, spec.name, name)
                af.publish(path, final, midway=lambda: fault_point(spec.name, "mid_publish"))
                files = fs.manifest(final)
                digest = fs.manifest_digest(files)
                published[name] = {"id": self.store.put_artifact(final, name, digest, exe, files),
                                   "uri": final, "digest": digest}
            for name, uri in external.items():
                files = fs.manifest(uri)
                digest = fs.manifest_digest(files)
                published[name] = {"id": self.store.put_artifact(uri, name, digest, exe, files), "uri": uri,
                                   "digest": digest}
        finally:
            af.discard(staging)  # failed or finished, nothing half-written stays behind
        fault_point(spec.name, "after_publish")
        self.store.finish_execution(exe, "complete", facts=facts, outputs={n: a["id"] for n, a in published.items()})
        self.produced.update(published)
        self.facts[spec.name] = facts
        entry.update(status="succeeded", facts=facts)

    def producer_of(self, name: str) -> str:
        return next((s.name for s in self.specs if name in s.outputs), "the step that makes it")

    def _prepare_after(self, spec):
        """What the main thread does while `spec` runs in a child process, or its job runs on a cluster: import
        the executor of the next step that runs in this process (after ingest, transform's: TensorFlow, Beam
        and TFT, about 6 s), on the idle core. Only the next one: TFMA imported before training would stay in memory through
        it and raise the process's peak (docs/performance.md)."""
        if self.alone:   # the next step runs in another process
            return None
        later = [s for s in self.specs[self.specs.index(spec) + 1:] if not s.process] if spec in self.specs else []
        return later[0].load_executor if later else None
