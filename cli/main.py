"""Command line: run the pipeline, and look at past runs and artifacts.

    python -m pipeline run --config pipeline.yaml [--profile full] [--set trainer.epochs=2] [--runner direct-mp] [beam flags] [-- other flags]
    python -m pipeline run --no-cache | --invalidate trainer
    python -m pipeline report [RUN_ID]
    python -m pipeline runs | show RUN_ID | lineage ARTIFACT_ID_OR_PATH | verify RUN_ID
    python -m pipeline graph --runner dataflow [--from RUN_ID]     # offline --dry_run of each Beam step
    python -m pipeline flink up | down | status | fetch             # the local Flink cluster (docs/flink.md)
    python -m pipeline worker build | inputs | up | down | status   # the worker image, podman (docs/container.md)
    python -m pipeline gcs up | down | status | env | fetch        # a local gs:// object store (docs/storage.md)
    python -m pipeline cluster images | up | down | status | env   # Flink in pods, k8s/*.yaml (docs/cluster.md)
    python -m pipeline compare RUN_A RUN_B [--output page.html]   # one HTML page; <root>/index.html lists runs
    python -m pipeline predict --model latest --input DIR_OR_FILE --output DIR [--runner flink]
    python -m pipeline begin | step NAME --run-id RUN | finish --run-id RUN    # a run as tasks (docs/orchestration.md)
    python -m pipeline airflow-dag --output DAG.py | kubeflow --output SPEC.yaml  # for Airflow 3, Kubeflow, Vertex
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from cli import commands
from pipeline.config import ConfigError

DEFAULT_CONFIG = commands.DEFAULT_CONFIG


def configure_environment() -> None:
    """Settings that must be in place before TensorFlow is first imported."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"          # Keras 2 everywhere (see modeling/model.py)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the whole pipeline; unknown flags go to Beam untouched")
    run.add_argument("--config", default=DEFAULT_CONFIG)
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    run.add_argument("--runner", help="Beam runner profile from pipeline.yaml (beam.profiles)")
    run.add_argument("--profile", help="a named set of overrides from pipeline.yaml (profiles:), e.g. full")
    run.add_argument("--no-cache", action="store_true", help="run every component, reuse nothing")
    run.add_argument("--invalidate", action="append", default=[], metavar="COMPONENT",
                     help="run this component again even if a cached execution matches")
    run.add_argument("-v", "--verbose", action="store_true", help="every library's log on the console too")
    begin = sub.add_parser("begin", help="begin a run whose steps are launched as tasks; prints its id last")
    begin.add_argument("--run-id", help="the run's id (default: a new one)")
    begin.add_argument("--run-id-file", help="also write the run id to this file (an orchestrator's output)")
    step = sub.add_parser("step", help="run one step of a begun run (an orchestrator's task)")
    step.add_argument("name", help="the step, e.g. ingest")
    finish = sub.add_parser("finish", help="finish a begun run whose steps ran: summary, report, runs/latest")
    airflow = sub.add_parser("airflow-dag", help="write the pipeline as an Airflow 3 DAG file (every step a task)")
    kubeflow = sub.add_parser("kubeflow", help="compile the pipeline into a Kubeflow Pipelines / Vertex AI spec")
    for p in (airflow, kubeflow):
        p.add_argument("--output", required=True, help="the file to write (.py for Airflow, .yaml for Kubeflow)")
    for p in (begin, step, finish, airflow, kubeflow):
        p.add_argument("--config", default=DEFAULT_CONFIG)
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
        p.add_argument("--runner", help="Beam runner profile from pipeline.yaml (beam.profiles)")
        p.add_argument("--profile", help="a named set of overrides from pipeline.yaml (profiles:)")
        if p in (step, finish):
            p.add_argument("--run-id", required=True, help="the id `begin` printed")
    report = sub.add_parser("report", help="print a run's summary and the path of its HTML report")
    report.add_argument("run_id", nargs="?", help="default: the latest run")
    runs = sub.add_parser("runs", help="list runs recorded in the metadata store")
    show = sub.add_parser("show", help="a run's executions, timings and artifacts")
    show.add_argument("run_id")
    lineage = sub.add_parser("lineage", help="what produced an artifact, from what, and who used it")
    lineage.add_argument("artifact", help="artifact id or path")
    verify = sub.add_parser("verify", help="re-check a run's artifacts against their recorded checksums")
    verify.add_argument("run_id")
    graph = sub.add_parser("graph", help="build each Beam step's job graph with --dry_run (no submission)")
    graph.add_argument("--runner", default="dataflow")
    graph.add_argument("--from", dest="from_run", help="run whose artifacts feed the steps (default: latest)")
    exp = sub.add_parser("expectations", help="write the data expectations file from a run's statistics")
    exp.add_argument("--from", dest="from_run", help="a run whose data you trust (default: the latest run)")
    exp.add_argument("--force", action="store_true", help="replace an existing file (kept as <file>.previous)")
    flink = sub.add_parser("flink", help="the local Flink session cluster and Beam's job server")
    flink.add_argument("action", choices=("up", "down", "status", "fetch"))
    worker = sub.add_parser("worker", help="the Beam worker image (podman) and the podman socket Flink uses")
    worker.add_argument("action", choices=("build", "inputs", "up", "down", "status"))
    gcs = sub.add_parser("gcs", help="a local GCS-compatible object store on loopback (tests, trying gs:// roots)")
    gcs.add_argument("action", choices=("up", "down", "status", "env", "fetch"))
    gcs.add_argument("--home", default="build/gcs", help="its binary, credentials, logs and state")
    gcs.add_argument("--bucket", action="append", default=["pipeline"], help="buckets to create at `up`")
    cluster = sub.add_parser("cluster", help="the Flink cluster in pods of k8s/*.yaml (podman kube play)")
    cluster.add_argument("action", choices=("images", "up", "down", "status", "env"))
    predict = sub.add_parser("predict", help="predictions for many images on a Beam runner (RunInference)")
    predict.add_argument("--model", required=True, help="a pushed version, 'latest', a run id, or a SavedModel folder")
    predict.add_argument("--input", required=True, help="an IDX images file, an image folder, or raw TFRecords")
    predict.add_argument("--output", required=True, help="a new folder: predictions-*.csv|tfrecord, summary.json")
    predict.add_argument("--runner", help="Beam runner profile from pipeline.yaml (beam.profiles)")
    predict.add_argument("--dark-on-light", action="store_true", help="images are dark ink on light paper "
                         "(predict.dark_on_light)")
    predict.add_argument("--batch-size", type=int, help="records per inference call (predict.batch_size, 256)")
    compare = sub.add_parser("compare", help="compare two runs: config, data, slices, confusion, changed images")
    compare.add_argument("run_a")
    compare.add_argument("run_b")
    compare.add_argument("--output", help="the HTML page (default: <root>/compare/A_vs_B.html)")
    compare.add_argument("--allow-different", action="store_true",
                         help="compare runs of different datasets, classes or evaluated splits")
    for p in (report, runs, show, lineage, graph, verify, exp, flink, worker, cluster, predict, compare):
        p.add_argument("--config", default=DEFAULT_CONFIG)
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    return parser


def _our_flags() -> list[str]:
    run = next(a for a in _parser()._subparsers._group_actions[0].choices.values() if a.prog.endswith(" run"))
    return [s for s in run._option_string_actions if s.startswith("--")]


def _cmd_run(args, beam_flags: list[str]) -> int:
    overrides = list(args.set) + ([f"beam.runner={args.runner}"] if args.runner else [])
    overrides += [f"beam.extra_args={beam_flags!r}"] if beam_flags else []
    cfg = commands.load(argparse.Namespace(config=args.config, set=overrides, profile=args.profile))
    from cli.dag import components
    from cli.run import run_pipeline
    unknown = set(args.invalidate) - {spec.name for spec in components(cfg)}
    if unknown:
        raise ConfigError(f"--invalidate: unknown component(s) {sorted(unknown)}")
    from pipeline import console, fs
    from pipeline.packaging import with_package
    from pipeline.runner import new_run_id
    run_id = new_run_id()
    root = cfg.pipeline.root
    LOG["path"] = (os.path.join("build", "logs", f"{run_id}.log") if fs.is_remote(root)
                   else os.path.join(root, "runs", run_id, "logs", "pipeline.log"))
    LOG["report"] = fs.join(root, "runs", run_id, "report.html")   # written if the run fails or stops
    with console.session(LOG["path"], args.verbose) as shown:
        shown.write(f"run {run_id}: {cfg.data.dataset} on {cfg.beam.runner}" + (f", profile {cfg.profile}" if cfg.profile else "")
                    + f" (config {args.config})")
        beam_args = with_package(cfg.beam_args(), os.path.join("build", "wheels"))
        summary = run_pipeline(cfg, beam_args, run_id=run_id, no_cache=args.no_cache,
                               invalidate=tuple(args.invalidate))
    print(commands.describe(summary, steps=False))
    print(f"log: {LOG['path']}")
    return 0


LOG: dict = {}   # the running command's log file, named with any error


def keep_trace(path: str) -> bool:
    """Append the exception being handled to the log at `path`; False if it cannot be written.

    The failure may be the full disk itself: then the close's flush raises too, and that second OSError must
    not replace the one-line error with a traceback (CI's disk-full test once saw exactly that).
    """
    import traceback
    try:
        with open(path, "a") as f:
            traceback.print_exc(file=f)
        return True
    except OSError:
        return False


def _name_log() -> None:
    if LOG.get("path") and os.path.exists(LOG["path"]):
        print(f"log: {LOG['path']}", file=sys.stderr)
    if LOG.get("report"):
        from pipeline import fs
        if fs.exists(LOG["report"]):
            print(f"report: {LOG['report']}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    configure_environment()
    args, beam_flags = _parser().parse_known_args(argv)
    from contract.errors import PipelineError
    try:
        if args.command in ("run", "begin", "step", "finish", "airflow-dag", "kubeflow"):
            from pipeline.beamflags import split
            try:
                beam_flags = split(beam_flags, _our_flags())
            except ValueError as e:
                raise ConfigError(str(e)) from None
            if args.command == "run":
                return _cmd_run(args, beam_flags)
            from cli import units
            return getattr(units, f"cmd_{args.command.replace('-', '_')}")(args, beam_flags, LOG)
        if beam_flags:
            raise ConfigError(f"unrecognized arguments: {' '.join(beam_flags)}")
        plain = {"report": commands.cmd_report, "graph": commands.cmd_graph, "expectations": commands.cmd_expectations,
                 "flink": commands.cmd_flink, "worker": commands.cmd_worker, "gcs": commands.cmd_gcs,
                 "cluster": commands.cmd_cluster}
        if args.command in plain:
            return plain[args.command](args)
        if args.command in ("predict", "compare"):   # TensorFlow's own messages go to a log file here too
            from pipeline import console
            LOG["path"] = os.path.join("build", "logs", f"{args.command}-{time.strftime('%Y%m%d-%H%M%S')}.log")
            with console.session(LOG["path"]):
                code = (commands.cmd_predict if args.command == "predict" else commands.cmd_compare)(args)
            print(f"log: {LOG['path']}")
            return code
        return commands.cmd_store(args)
    except PipelineError as e:  # a bad config or input, a cluster or store not there; "stopped": the data
        print(f"{e.label}: {e}", file=sys.stderr)   # failed validation, the anomalies are the message (exit 3)
        _name_log()
        return e.exit_code
    except OSError as e:  # unwritable root, disk full, a vanished file: say which path, no traceback
        print(f"error: {e.strerror or e} ({getattr(e, 'filename', None) or 'no file named'})", file=sys.stderr)
        _name_log()
        return 2
    except Exception as e:  # a step failed (Beam wraps worker errors): keep the trace, end on one clear line
        if not (LOG.get("path") and os.path.exists(LOG["path"]) and keep_trace(LOG["path"])):
            logging.getLogger("pipeline").exception("the run failed")
        cause = str(e).strip().splitlines()
        # Beam's DOCKER environment reports a container that would not start as a failed `docker` command
        where = ("a worker container could not start, docs/container.md" if "for command 'docker " in str(e)
                 else "summary.json of the run has the details")
        print(f"error: the run failed: {type(e).__name__}: {cause[-1] if cause else ''} ({where})", file=sys.stderr)
        _name_log()
        return 1
