"""Run the DAG locally: cached components are reused, the others write into staging and are published
by rename on success. Every execution is recorded in the metadata store.

    python -m pipeline run --config pipeline.yaml [--no-cache] [--invalidate trainer]
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import logging
import os
import threading
import time
import uuid

from pipeline import artifacts as af
from pipeline import console, end_report, fs
from pipeline.faults import fault_point
from pipeline.fingerprint import code_version, execution_fingerprint, library_versions
from pipeline.isolated import call_executor
from pipeline.metadata import MetadataStore
from pipeline.packaging import workers_are_local
from pipeline.resolvers import resolve
from pipeline.schedule import run_in_order
from pipeline.spec import ExecContext, Params, StopPipeline

log = logging.getLogger(__name__)


def _under(uri: str, root: str) -> bool:
    """uri lies below the pipeline root (local paths compared as absolute paths)."""
    absolute = (lambda p: p if fs.is_remote(p) else os.path.abspath(p))
    return absolute(uri).startswith(absolute(root).rstrip("/") + "/")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:4]


def metadata_path(cfg) -> str:
    if cfg.pipeline.metadata:
        return cfg.pipeline.metadata
    return fs.join(cfg.pipeline.root, "metadata.sqlite")


def _raw_data_artifact(store, source) -> dict:
    files = {role: {"sha256": source.sha256[role], "path": path} for role, path in sorted(source.files.items())}
    for split, rel, _, sha in source.entries:  # an image folder: every image's content, in the lineage
        files[f"{split}/{rel}"] = {"sha256": sha, "path": f"{source.location}/{split}/{rel}"}
    digest = hashlib.sha256("".join(f"{r}:{f['sha256']}\n" for r, f in files.items()).encode()).hexdigest()
    art_id = store.put_artifact(source.location, "raw_data", digest, None, files)
    return {"id": art_id, "uri": source.location, "digest": digest}


class _Run:
    """One pipeline run: the state shared by its component steps."""

    def __init__(self, cfg, beam_args, store, run_id, no_cache, invalidate):
        self.cfg, self.beam_args, self.store, self.run_id = cfg, beam_args, store, run_id
        self.no_cache, self.invalidate = no_cache, set(invalidate)
        self.run_dir = fs.join(cfg.pipeline.root, "runs", run_id)
        self.summary_path = fs.join(self.run_dir, "summary.json")
        self.summary = {"run_id": run_id, "status": "running", "dataset": cfg.data.dataset,
                        "config": cfg.as_dict(), "beam_args": beam_args, "versions": library_versions(),
                        "components": {}, "artifacts": {}, "metadata": store.path}
        self.produced: dict = {}
        self.facts: dict = {}             # each step's small facts (counts, headline metrics), for the summary
        self.source = None
        self.watch = None                  # set while the run's services serve it (Services.serving)
        self.specs: list = []              # the steps as placed for this run's runner
        # A background step runs beside the main thread's: the bookkeeping (summary, store, produced) is
        # done under this lock; executors run outside it.
        self.lock = threading.RLock()

    def save(self, last: bool = False):
        af.write_json(self.summary_path, self.summary, in_place_if_full=last)

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
                          source=self.source, temp_dir=fs.join(staging, ".tmp"), component=spec.name,
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

    def _prepare_after(self, spec):
        """What the main thread does while `spec` runs in a child process, or its job runs on a cluster: import
        the executor of the next step that runs in this process (after ingest, transform's: TensorFlow, Beam
        and TFT, about 6 s), on the idle core. Only the next one: TFMA imported before training would stay in memory through
        it and raise the process's peak (docs/performance.md)."""
        later = [s for s in self.specs[self.specs.index(spec) + 1:] if not s.process] if spec in self.specs else []
        return later[0].load_executor if later else None


class Services:
    """What a runner profile needs around a run (a cluster to check, a worker pool to serve its workers); the
    in-process runners need nothing. The CLI picks the profile's services (ops/services.py), so this core
    names no cluster."""

    def prepare(self, cfg):
        """Check what the run needs before its first step; return the config as its workers see it."""
        return cfg

    @contextlib.contextmanager
    def serving(self, cfg):
        """Serve the run; yield a check that raises if something a Beam job needs has died, or None."""
        yield None


def run(cfg, beam_args: list[str], dag: list, services: Services | None = None, run_id: str | None = None,
        no_cache: bool = False, invalidate: tuple = (), after=None, given: dict | None = None) -> dict:
    """Run the steps of `dag` in order; return the summary that is also written to summary.json.
    `after(store, root)` runs once the run has ended, whatever its end (the CLI rewrites the history page).
    given: name -> uri of the artifacts the DAG starts from (e.g. a model and the data to predict); without
    it the run starts from the configured dataset (raw_data), and a succeeded run becomes runs/latest."""
    services = services or Services()
    why = fs.check_bucket(cfg.pipeline.root)
    if why:
        from pipeline.sections import ConfigError
        raise ConfigError(f"pipeline.root {cfg.pipeline.root}: {why}")
    cfg = services.prepare(cfg)
    store = MetadataStore(metadata_path(cfg))
    run = _Run(cfg, beam_args, store, run_id or new_run_id(), no_cache, invalidate)
    with services.serving(cfg) as watch:
        run.watch = watch
        return _run_steps(cfg, store, run, dag, after, given)


def _given_artifact(store, name: str, uri: str) -> dict:
    """An artifact the run starts from, by content: the same files at the same place are the artifact the
    store already knows (so a pushed model leads back to its trainer in the lineage). A local glob stands for
    the files it matches."""
    if not fs.is_remote(uri) and any(c in uri for c in "*?["):
        import glob
        files = {os.path.relpath(m, os.path.dirname(uri)): {"sha256": fs.sha256_file(m), "size": os.path.getsize(m)}
                 for m in sorted(glob.glob(uri)) if os.path.isfile(m)}
    else:
        files = fs.manifest(uri)
    digest = fs.manifest_digest(files)
    return {"id": store.put_artifact(uri, name, digest, None, files), "uri": uri, "digest": digest}


def _run_steps(cfg, store, run, dag, after, given) -> dict:
    from data.acquire import acquire

    sweep_killed(store, cfg.pipeline.root)
    fs.makedirs(run.run_dir)
    store.start_run(run.run_id, cfg.data.dataset, run.summary_path)
    run.save()
    try:
        if given is None:
            run.source = acquire(cfg.data)
            run.summary["source"] = run.source.describe()
            run.produced["raw_data"] = _raw_data_artifact(store, run.source)
        else:
            run.produced.update({name: _given_artifact(store, name, uri) for name, uri in given.items()})
            run.summary["given"] = dict(given)
        run.specs = list(dag)   # background steps stay so on a cluster: their jobs run beside the next step's
        run_in_order(run.specs, run.step)
        _finish(run)
        af.discard(fs.join(run.run_dir, ".staging"))
        run.save()
        store.finish_run(run.run_id, "succeeded")
        if given is None:   # the newest trained run; a prediction run trains nothing
            with fs.open_file(fs.join(cfg.pipeline.root, "runs", "latest"), "w") as f:
                f.write(run.run_id)
        return run.summary
    except BaseException as e:
        status = "stopped" if isinstance(e, StopPipeline) else "failed"
        run.summary.update(status=status, error=f"{type(e).__name__}: {e}")
        af.discard(fs.join(run.run_dir, ".staging"))   # first free what the steps held: the disk may be full
        run.save(last=True)
        store.finish_run(run.run_id, status, run.summary["error"])
        end_report.write(run.summary, run.run_dir)   # why it ended, and the evidence the steps kept
        raise
    finally:
        if after is not None:
            try:
                after(store, cfg.pipeline.root)
            except Exception as e:  # the run's own outcome matters more than what is done after it
                log.warning("after the run: %s", e)
        store.close()


def sweep_killed(store, root: str) -> None:
    """Remove what killed runs of this root left: their staging folders, and any folder at an output path
    that the store does not record (a publish to an object store cut midway). The run is then recorded as
    killed, so it is swept once."""
    for r in store.runs():
        run_dir = fs.join(root, "runs", r["run_id"])
        if r["status"] != "killed" or r["finished"] or r["summary_path"] != fs.join(run_dir, "summary.json"):
            continue
        af.discard(fs.join(run_dir, ".staging"))
        for step in {e["component"] for e in store.executions(r["run_id"])}:
            for name in fs.listdir(fs.join(run_dir, step)):
                if store.artifact(fs.join(run_dir, step, name)) is None:
                    log.warning("removing %s: left unfinished by killed run %s", fs.join(run_dir, step, name),
                                r["run_id"])
                    af.discard(fs.join(run_dir, step, name))
        why = "the process ended before the run finished"
        if fs.exists(r["summary_path"]):
            af.write_json(r["summary_path"], {**af.read_json(r["summary_path"]), "status": "killed", "error": why})
        store.finish_run(r["run_id"], "killed", why)


def _finish(run) -> None:
    """The summary of a succeeded run: what each step's `summarize` hook draws from its facts."""
    run.summary.update(status="succeeded",
                       cached=[n for n, c in run.summary["components"].items() if c["status"] == "cached"])
    for spec in run.specs:
        if spec.summarize is not None:
            run.summary.update(spec.summarize(run.facts.get(spec.name) or {}))
    for spec in run.specs:   # a step's published file the user opens, e.g. the report's page
        for name, file in spec.shown_files.items():
            run.summary["artifacts"][name] = fs.join(run.produced[name]["uri"], file)
