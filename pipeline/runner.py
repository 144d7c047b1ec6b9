"""A run's life: begin it, run its steps (pipeline/steps.py), finish it. `run` walks the three in one
process; an orchestrator launches each as a task of its own (`python -m pipeline begin | step | finish`,
docs/orchestration.md), with the run's record and the metadata store carrying everything between them.

    python -m pipeline run --config pipeline.yaml [--no-cache] [--invalidate trainer]
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
import uuid

from contract.errors import PipelineError
from pipeline import artifacts as af
from pipeline import end_report, fs
from pipeline.metadata import DONE, MetadataStore
from pipeline.schedule import run_in_order
from pipeline.spec import StopPipeline
from pipeline.steps import Run, drop_unfinished

log = logging.getLogger(__name__)


class RunStateError(PipelineError, RuntimeError):
    """A step or finish of a run that is not there, or not in a state to go on."""


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:4]


def metadata_path(cfg) -> str:
    if cfg.pipeline.metadata:
        return cfg.pipeline.metadata
    return fs.join(cfg.pipeline.root, "metadata.sqlite")


def _raw_data_artifact(store, source) -> dict:
    """The configured data as the run's raw_data input: its files' digests (the lineage) and, as properties,
    the whole source, from which ingest takes it on whatever machine it runs."""
    files = {role: {"sha256": source.sha256[role], "path": path} for role, path in sorted(source.files.items())}
    for split, rel, _, sha in source.entries:  # an image folder: every image's content, in the lineage
        files[f"{split}/{rel}"] = {"sha256": sha, "path": f"{source.location}/{split}/{rel}"}
    digest = hashlib.sha256("".join(f"{r}:{f['sha256']}\n" for r, f in files.items()).encode()).hexdigest()
    props = source.as_properties()
    art_id = store.put_artifact(source.location, "raw_data", digest, None, files, props)
    return {"id": art_id, "uri": source.location, "digest": digest, "properties": props}


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


def begin(cfg, beam_args: list[str], dag: list, store, run_id: str | None = None, no_cache: bool = False,
          invalidate: tuple = (), given: dict | None = None, driver: bool = True) -> Run:
    """Start a run: sweep what killed runs left, record the run and what it starts from (the configured
    dataset as raw_data, or `given`: name -> uri), write its summary. driver=False: its steps are launched
    alone (the run is not tied to this process)."""
    from data.acquire import acquire
    run = Run(cfg, beam_args, store, run_id or new_run_id(), no_cache, invalidate, alone=not driver)
    run.specs = list(dag)   # background steps stay so on a cluster: their jobs run beside the next step's
    sweep_killed(store, cfg.pipeline.root)
    fs.makedirs(run.run_dir)
    store.start_run(run.run_id, cfg.data.dataset, run.summary_path, driver=driver)
    af.write_json(run.summary_path, run.summary)
    try:
        if given is None:
            source = acquire(cfg.data)
            run.summary["source"] = source.describe()
            run.produced["raw_data"] = _raw_data_artifact(store, source)
        else:
            run.produced.update({name: _given_artifact(store, name, uri) for name, uri in given.items()})
            run.summary["given"] = dict(given)
        store.set_run_inputs(run.run_id, {n: a["id"] for n, a in run.produced.items()})
        af.write_json(run.summary_path, run.summary)
    except BaseException as e:
        failed(run, e)
        raise
    return run


def open_run(cfg, dag: list, store, run_id: str) -> Run:
    """A begun run, as a step launched alone sees it: its record (config, Beam flags, the steps so far) and,
    from the store, what it started from and what its steps produced."""
    path = fs.join(cfg.pipeline.root, "runs", run_id, "summary.json")
    row = store.run(run_id)
    if row is None or not fs.exists(path):
        raise RunStateError(f"run {run_id}: not begun under {cfg.pipeline.root} (python -m pipeline begin)")
    if row["status"] != "running":
        raise RunStateError(f"run {run_id}: already {row['status']}; begin a new run")
    summary = af.read_json(path)
    config = json.loads(json.dumps(cfg.as_dict(), default=str))   # as the record holds it (lists, not tuples)
    if summary["config"] != config:
        changed = sorted(k for k in set(summary["config"]) | set(config) if summary["config"].get(k) != config.get(k))
        raise RunStateError(f"run {run_id}: begun with another config (sections {', '.join(changed)} differ); "
                            f"give every task the begin's --config, --set and --profile")
    run = Run(cfg, summary["beam_args"], store, run_id, alone=True)
    run.summary, run.specs = summary, list(dag)
    run.produced.update({n: {k: a[k] for k in ("id", "uri", "digest", "properties")}
                         for n, a in store.run_inputs(run_id).items()})
    for exe in store.executions(run_id):   # in order: a retried step's last execution wins
        if exe["status"] in DONE:
            run.produced.update({n: {k: a[k] for k in ("id", "uri", "digest")}
                                 for n, a in store.events(exe["id"], "output").items()})
            run.facts[exe["component"]] = exe["facts"]
    return run


def finish(run, after=None) -> dict:
    """End a run whose steps all ran: its summary (each step's summarize hook), runs/latest for a trained
    run. A step that did not succeed ends the run failed, with its report of why."""
    done = {n: c["status"] for n, c in run.summary["components"].items()}
    if run.alone:
        reason = next(((s.name, run.facts[s.name]["stop_reason"]) for s in run.specs
                       if (run.facts.get(s.name) or {}).get("stop_reason")), None)
        if reason:   # a step's data said stop (validation): its task failed on purpose, nothing after it ran
            e = StopPipeline(f"{reason[0]}: {reason[1]}")
            failed(run, e)
            raise e
        missing = [s.name for s in run.specs if done.get(s.name) not in ("succeeded", "cached")]
        if missing:
            e = RunStateError(f"run {run.run_id}: step {missing[0]} "
                              f"{'failed' if done.get(missing[0]) == 'failed' else 'has not run'}")
            failed(run, e)
            raise e
    _finish(run)
    af.discard(fs.join(run.run_dir, ".staging"))
    run.save()
    run.store.finish_run(run.run_id, "succeeded")
    if "given" not in run.summary:   # the newest trained run; a prediction run trains nothing
        with fs.open_file(fs.join(run.cfg.pipeline.root, "runs", "latest"), "w") as f:
            f.write(run.run_id)
    return run.summary


def failed(run, e: BaseException) -> None:
    """Record a run that ended on e: stopped (the data said so) or failed; its report says why."""
    status = "stopped" if isinstance(e, StopPipeline) else "failed"
    run.summary.update(status=status, error=f"{type(e).__name__}: {e}")
    af.discard(fs.join(run.run_dir, ".staging"))   # first free what the steps held: the disk may be full
    run.save(last=True)
    try:
        run.store.finish_run(run.run_id, status, run.summary["error"])
    except PipelineError as gone:   # the store itself may be why it ended: the next run sweeps it as killed
        log.warning("the run's end could not be recorded: %s", gone)
    end_report.write(run.summary, run.run_dir)   # why it ended, and the evidence the steps kept


def run(cfg, beam_args: list[str], dag: list, services: Services | None = None, run_id: str | None = None,
        no_cache: bool = False, invalidate: tuple = (), after=None, given: dict | None = None) -> dict:
    """Begin, run the steps of `dag` in order, finish; return the summary that is also written to
    summary.json. `after(store, root)` runs once the run has ended, whatever its end (the CLI rewrites the
    history page). given: name -> uri of the artifacts the DAG starts from (e.g. a model and the data to
    predict); without it the run starts from the configured dataset (raw_data), and a succeeded run becomes
    runs/latest."""
    services = services or Services()
    why = fs.check_bucket(cfg.pipeline.root)
    if why:
        from pipeline.sections import ConfigError
        raise ConfigError(f"pipeline.root {cfg.pipeline.root}: {why}")
    cfg = services.prepare(cfg)
    store = MetadataStore(metadata_path(cfg))
    try:
        with services.serving(cfg) as watch:
            begun = begin(cfg, beam_args, dag, store, run_id, no_cache, invalidate, given)
            begun.watch = watch
            try:
                run_in_order(begun.specs, begun.step)
                return finish(begun)
            except BaseException as e:
                failed(begun, e)
                raise
    finally:
        _after(after, store, cfg)


@contextlib.contextmanager
def step_of(cfg, dag: list, run_id: str, services_for=None, after=None):
    """Open begun run `run_id` for one of its steps (or its finish), served as `run` serves it: yields the
    Run. services_for(beam_args) -> the Services of the Beam flags the run was begun with."""
    store = MetadataStore(metadata_path(cfg))
    try:
        opened = open_run(cfg, dag, store, run_id)
        services = services_for(opened.beam_args) if services_for else Services()
        with services.serving(services.prepare(cfg)) as watch:
            opened.watch = watch
            yield opened
    finally:
        _after(after, store, cfg)


def _after(after, store, cfg) -> None:
    try:
        if after is not None:
            try:
                after(store, cfg.pipeline.root)
            except Exception as e:  # the run's own outcome matters more than what is done after it
                log.warning("after the run: %s", e)
    finally:
        store.close()


def sweep_killed(store, root: str) -> None:
    """Remove what killed runs of this root left: their staging folders, and any folder at an output path
    that no finished execution published (a publish cut midway, a kill before the record). The run is then recorded as
    killed, so it is swept once."""
    for r in store.runs():
        run_dir = fs.join(root, "runs", r["run_id"])
        if r["status"] != "killed" or r["finished"] or r["summary_path"] != fs.join(run_dir, "summary.json"):
            continue
        af.discard(fs.join(run_dir, ".staging"))
        for step in {e["component"] for e in store.executions(r["run_id"])}:
            for name in fs.listdir(fs.join(run_dir, step)):
                drop_unfinished(store, fs.join(run_dir, step, name), f"killed run {r['run_id']}")
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
