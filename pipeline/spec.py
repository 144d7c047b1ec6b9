"""What a component declares (inputs, outputs, parameters) and what its executor receives.

A component's `component.py` holds one ComponentSpec; its `executor.py` does the work:

    def run(ctx: ExecContext, inputs: dict[str, str], outputs: dict[str, str]) -> dict
"""
from __future__ import annotations

import dataclasses
import importlib
import threading
from collections.abc import Mapping
from typing import Any, Callable, Optional

from contract.errors import PipelineError


@dataclasses.dataclass(frozen=True)
class ComponentSpec:
    name: str
    inputs: tuple[str, ...]            # artifact names produced upstream (or 'raw_data')
    outputs: tuple[str, ...]           # artifact names this component publishes
    params: Callable[[Any], dict]      # the config values that change what it computes
    executor: str                      # "module:function", imported only when it runs
    cacheable: bool = True             # False: runs every time (e.g. a report about this very run)
    # name -> FromHistory: an input found in the run history (pipeline/resolvers.py); may be absent
    optional_inputs: Mapping[str, "FromHistory"] = dataclasses.field(default_factory=dict)
    background: bool = False           # runs in a thread beside the steps after it, until one needs its outputs
    process: bool = False              # its executor runs in a child process (pipeline/isolated.py): its own core
    headline: Optional[Callable[[dict], str]] = None    # facts -> the few words of its console line
    summarize: Optional[Callable[[dict], dict]] = None  # facts -> keys of a succeeded run's summary.json
    shown_files: Mapping[str, str] = dataclasses.field(default_factory=dict)  # output -> the file a user opens
    # (key, frozen dataclass): the step's own section of pipeline.yaml (components/<step>/section.py), which
    # the loader adds to the Config of a DAG that has this step (pipeline/sections.py config_class)
    section: Optional[tuple[str, type]] = None

    def headline_of(self, facts: dict | None) -> str:
        """The step's headline for its facts; "" when it has none or the facts lack what it shows."""
        try:
            return self.headline(facts or {}) if self.headline else ""
        except (KeyError, TypeError, ValueError):   # e.g. the facts of a step that failed midway
            return ""

    def code_modules(self) -> tuple[str, ...]:
        """The modules whose import closure is the component's code version (pipeline/fingerprint.py):
        its executor's module and the component.py beside it (whose params() decide what is hashed)."""
        module = self.executor.partition(":")[0]
        return (module, module.rsplit(".", 1)[0] + ".component")

    def declared_params(self, cfg, present: tuple = ()) -> dict:
        """What the executor receives and the fingerprint hashes: params(cfg), and which optional inputs
        were found (present)."""
        return self.params(cfg) | {f"has_{n}": n in present for n in self.optional_inputs}

    def load_executor(self) -> Callable:
        module, _, fn = self.executor.partition(":")
        return getattr(importlib.import_module(module), fn)


@dataclasses.dataclass(frozen=True)
class FromHistory:
    """An optional input taken from an earlier run (TFX's resolver): the `input` artifact of the newest
    execution of `component`, in a succeeded run on the same dataset, whose facts have `fact` true; the
    artifact this run produced under the name `unless_same_as` is skipped (comparing a thing with itself
    says nothing, and the rerun stays cached)."""
    component: str
    fact: str
    input: str
    unless_same_as: str


class Progress:
    """A step's progress on the console, reached through its context (ctx.progress) and small enough for a
    Beam DoFn to hold; a no-op where no console is open (other processes' workers, tests)."""

    def __init__(self, step: str):
        self.step = step

    def expect(self, total: int, unit: str) -> None:
        from pipeline import console
        console.expect(self.step, total, unit)

    def tick(self, n: int = 1, detail: str = "") -> None:
        from pipeline import console
        console.tick(self.step, n, detail)


class Params(Mapping):
    """The parameters a component declared (ComponentSpec.params): exactly what its fingerprint hashes.
    Read as ctx.params.epochs or ctx.params["epochs"]; anything undeclared is an error, so an executor
    cannot depend on a value that would not invalidate its cache."""

    def __init__(self, values: dict):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, key: str):
        if key.startswith("_"):   # copy/pickle probe dunders before _values exists: no recursion
            raise AttributeError(key)
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"parameter {key!r} is not declared by the component (declared: "
                                 f"{sorted(self._values)}); add it to params() so it is hashed") from None

    def __setattr__(self, key, value):
        raise AttributeError("parameters are read-only")

    def __getitem__(self, key: str):
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


@dataclasses.dataclass(frozen=True)
class ExecContext:
    run_id: str
    run_dir: str
    params: Params                     # the component's declared, hashed parameters (nothing else of the config)
    beam_args: tuple[str, ...]
    temp_dir: str                      # scratch space, removed after the component
    run_record: dict = dataclasses.field(default_factory=dict)  # the runner's record of this run's steps so far
    # input name -> the properties its artifact was recorded with (raw_data: the data source, data/acquire.py)
    input_properties: dict = dataclasses.field(default_factory=dict)
    external_outputs: dict = dataclasses.field(default_factory=dict)  # name -> uri written outside the run
    jobs: dict = dataclasses.field(default_factory=dict)  # component -> the job a dry run built
    component: str = ""
    dataset: str = ""                  # names the step's Beam job (<dataset>-<step>-<run>): what the user runs
    pipeline_root: str = ""            # where checkpoints may live across runs (not an input: never hashed)
    fingerprint: str = ""              # of this execution: a rerun of the same work has the same one
    versions: dict = dataclasses.field(default_factory=dict)   # the library versions the run uses (its summary's)
    watch: Optional[Callable[[], None]] = None  # raises if something a Beam job needs has died (ops/workers.py)

    def fault_point(self, point: str) -> None:
        from pipeline.faults import fault_point
        fault_point(self.component, point)

    @property
    def evidence_dir(self) -> str:
        """<run>/evidence/<step>/: what a step leaves for the user to read when it fails (its staging, with
        its outputs, is removed), e.g. the malformed inputs. Kept after the run, whatever its end."""
        from pipeline import fs
        return fs.join(self.run_dir, "evidence", self.component)

    @property
    def progress(self) -> Progress:
        """ctx.progress.expect(total, "epochs"), then ctx.progress.tick() per unit done: the console's bar."""
        return Progress(self.component)

    @property
    def workers_are_local(self) -> bool:
        """Beam's workers run in this process or its children, so they see the driver's files."""
        from pipeline.packaging import workers_are_local
        return workers_are_local(self.beam_args)

    @property
    def dry_run(self) -> bool:
        return any(a in ("--dry_run", "--dry_run=True", "--dry_run=true") for a in self.beam_args)

    def beam_pipeline(self, step: str):
        """A Beam pipeline for one step on the configured runner, with a stable job name."""
        import apache_beam as beam
        from apache_beam.options.pipeline_options import PipelineOptions

        from pipeline.beamflags import declare_java_flink_options

        declare_java_flink_options()   # else PortableRunner drops --execution_mode_for_batch
        extra = {} if any(a.startswith("--temp_location") for a in self.beam_args) else {"temp_location": self.temp_dir}
        name = f"{self.dataset or 'pipeline'}-{step}-{self.run_id}".lower().replace("_", "-")
        opts = PipelineOptions(list(self.beam_args), job_name=name, save_main_session=False, **extra)
        return beam.Pipeline(options=opts)

    def run_beam(self, pipeline):
        """Run and wait; on a dry run (e.g. Dataflow --dry_run) keep the job it built in ctx.jobs."""
        result = pipeline.run()
        try:
            if self.watch is None:
                result.wait_until_finish()
            else:
                wait_watched(result, self.watch)
        except Exception as e:
            if type(e).__name__ != "DataflowRuntimeException":
                raise
            why = (str(e).strip().splitlines() or ["no message"])[-1]
            raise JobFailed(f"{self.component}: Dataflow job {result.job_id()} ended {result.state}: {why}") from e
        if self.dry_run:
            self.jobs[self.component] = getattr(result, "job", None)
        return result


def wait_watched(result, watch: Callable[[], None], poll_s: float = 1.0) -> None:
    """Wait for a remote job while checking, every poll_s, that its workers and cluster are alive: a dead
    worker pool would otherwise leave the job (and this wait) hanging. On trouble the job is cancelled."""
    errors: list[BaseException] = []

    def wait():
        try:
            result.wait_until_finish()
        except BaseException as e:  # re-raised in the caller's thread
            errors.append(e)

    waiter = threading.Thread(target=wait, name="beam-job-wait", daemon=True)
    waiter.start()
    while waiter.is_alive():
        waiter.join(poll_s)
        if waiter.is_alive():
            try:
                watch()
            except BaseException:
                try:
                    result.cancel()
                except Exception:  # the job may already be gone with what died; the watch's error says why
                    pass
                raise
    if errors:
        watch()   # a job that failed because its cluster or workers died: name that cause, not Flink's symptom
        raise errors[0]


class JobFailed(RuntimeError):
    """A step's Beam job ended in a failed state on its service; the message names the step, job and cause."""


class StopPipeline(PipelineError):
    """Raised by the runner when a component's facts carry a `stop_reason` (e.g. data anomalies): its
    outputs are published, so the reason can be inspected, and nothing downstream runs."""
    exit_code = 3
    label = "stopped"
