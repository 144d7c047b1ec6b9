"""The CLI's commands other than `run` (cli/main.py parses the arguments and handles errors).

    python -m pipeline report | runs | show RUN | lineage ARTIFACT | verify RUN | expectations | graph | flink ACTION
    python -m pipeline compare RUN_A RUN_B | predict --model M --input I --output DIR
"""
from __future__ import annotations

import argparse
import os
import sys

from cli.config import ConfigError, load_config

DEFAULT_CONFIG = "pipeline.yaml"


def _say(text: str) -> None:
    """To the console: the open console session's (its stdout is the log file), else stdout."""
    from pipeline import console
    shown = console.current()
    (shown.write if shown else print)(text)


def describe(summary: dict, steps: bool = True) -> str:
    lines = [f"run {summary['run_id']}: {summary['status']}"]
    if summary.get("source"):
        src = summary["source"]
        lines.append(f"data: {src['dataset']} from {src['kind']} ({src['location']})" + (f" -- {src['note']}" if src.get("note") else ""))
    for name, c in (summary.get("components", {}) if steps else {}).items():
        how = f"cached from run {c['cached_from_run']}" if c["status"] == "cached" else c["status"]
        lines.append(f"  {name:<10} {how:<36} {c.get('seconds', 0):8.1f} s")
    if "metrics" in summary:
        m = summary["metrics"]
        lines.append(f"accuracy on {m['split']} ({m['examples']} examples): {m['accuracy']:.4f}; "
                     f"{'BLESSED' if summary['blessed'] else 'NOT BLESSED'}")
        lines.append(f"report: {summary['artifacts']['report']}")
    if summary.get("error"):
        lines.append(f"error: {summary['error']}")
    return "\n".join(lines)


def load(args):
    """The config file the command names (pipeline.yaml in this folder by default), never the code's defaults
    silently: a missing file is an error that says where it was looked for."""
    if args.config == DEFAULT_CONFIG and not os.path.exists(args.config):
        raise ConfigError(f"{DEFAULT_CONFIG}: not found in {os.getcwd()}; run in the repository's folder (where "
                          f"`make` runs) or name a config file with --config PATH")
    cfg = load_config(args.config, args.set, getattr(args, "profile", None))
    use_object_store(cfg.pipeline.object_store)
    return cfg


def use_object_store(name: str) -> None:
    """pipeline.object_store: a local test store's variables (ops/gcs.py Store.env) go into this process's
    environment, so this command and every process it starts (SDK workers, a step's child process, the serving
    check) reach it, and the user's shell keeps its own proxy settings (issue #39). `google`: nothing is set."""
    if name == "google":
        return
    from ops import cluster, gcs
    if name == "local":
        store, start = gcs.status(gcs.HOME), "make gcs-up"
        env = store.env() if store else None
    else:
        store, start = cluster.store(), "make cluster-up"
        env = cluster.env() if gcs.answers(store) else None
    if env is None:
        raise ConfigError(f"pipeline.object_store: {name}: no object store answers; start it with `{start}`")
    os.environ.update(env)


def cmd_report(args) -> int:
    from pipeline import artifacts as af
    from pipeline import fs
    cfg = load(args)
    runs = fs.join(cfg.pipeline.root, "runs")
    run_id = args.run_id
    if not run_id:
        latest = fs.join(runs, "latest")
        if not fs.exists(latest):
            raise ConfigError(f"{latest}: no finished run yet; run 'make pipeline' first")
        with fs.open_file(latest) as f:
            run_id = f.read().strip()
    path = fs.join(runs, run_id, "summary.json")
    if not fs.exists(path):
        raise ConfigError(f"run {run_id!r}: no such run under {runs}")
    print(describe(af.read_json(path)))
    return 0


def cmd_expectations(args) -> int:
    from components.validator import expectations as ex
    from components.validator.component import expectations_path
    from contract import artifacts as files
    from pipeline import artifacts as af
    from pipeline import fs
    cfg = load(args)
    runs = fs.join(cfg.pipeline.root, "runs")
    run_id = args.from_run
    if not run_id:
        if not fs.exists(fs.join(runs, "latest")):
            raise ConfigError(f"{runs}/latest: no finished run yet; run the pipeline first or name one with --from")
        with fs.open_file(fs.join(runs, "latest")) as f:
            run_id = f.read().strip()
    summary_path = fs.join(runs, run_id, "summary.json")
    if not fs.exists(summary_path):
        raise ConfigError(f"run {run_id!r}: no such run under {runs}")
    stats_dir = af.read_json(summary_path).get("artifacts", {}).get("statistics")
    if not stats_dir:
        raise ConfigError(f"run {run_id!r}: it has no statistics artifact")
    stats = af.read_file(files.STATISTICS, stats_dir)
    cfg = load_config(args.config, list(args.set) + [f"data.dataset={stats['dataset']}"])
    path = expectations_path(cfg)
    if fs.exists(path):
        if not args.force:
            raise ConfigError(f"{path}: exists; review it by hand, or pass --force to replace it (kept as .previous)")
        fs.rename(path, path + ".previous", overwrite=True)
    af.write_text(path, ex.dump(ex.generate(stats, provenance={"run_id": run_id, "statistics": stats_dir})))
    print(f"wrote {path} from the statistics of run {run_id}")
    return 0


def cmd_graph(args) -> int:
    from cli.dryrun import describe, dry_run_beam_steps
    cfg = load(argparse.Namespace(config=args.config, set=list(args.set) + [f"beam.runner={args.runner}"]))
    jobs = dry_run_beam_steps(cfg, args.from_run)
    print(describe(jobs))
    return 0


def cmd_flink(args) -> int:
    from ops import flink, flink_dist, podman_service
    cfg = load(args)
    section = cfg.flink
    if args.action == "fetch":
        home, jobserver = flink_dist.fetch(section.home)
        print(f"Flink {flink_dist.FLINK_VERSION}: {home}\nBeam job server {flink_dist.BEAM_JOB_SERVER}: {jobserver}")
    elif args.action == "up":
        # Beam's DOCKER environment runs `docker` in the TaskManager: podman's socket unless you name a Docker
        pids = flink.up(section, podman_service.taskmanager_env(cfg.worker))
        print(f"Flink is up: http://localhost:{section.rest_port} (job server localhost:{section.job_port}); "
              f"pids {pids}; stop it with `make flink-down`")
    elif args.action == "down":
        stopped = flink.down(section)
        print(f"stopped pids {stopped}" if stopped else "nothing recorded was running")
    else:
        print(flink.status(section))
        return 0 if len(flink.running(section)) == len(flink.PROCESSES) else 1
    return 0


def cmd_gcs(args) -> int:
    """The local object store (ops/gcs.py): fake-gcs-server behind its loopback front."""
    from ops import gcs
    if args.action == "fetch":
        print(gcs.fetch(args.home))
    elif args.action == "up":
        store = gcs.up(args.home, buckets=tuple(args.bucket))
        print(f"object store is up: {store.endpoint} (pids {store.server_pid}, {store.front_pid}); buckets "
              f"{args.bucket}; use it with --set pipeline.object_store=local (docs/storage.md); stop it with "
              "`make gcs-down`")
    elif args.action == "down":
        stopped = gcs.down(args.home)
        print(f"stopped pids {stopped}" if stopped else "nothing recorded was running")
    else:
        store = gcs.status(args.home)
        if args.action == "env" and store:
            print(gcs.shell_env(store))
        elif args.action == "env":
            print(f"error: no local object store runs from {args.home}: start it with `make gcs-up`", file=sys.stderr)
        elif args.action == "status":
            print(f"up: {store.endpoint} (pids {store.server_pid}, {store.front_pid})" if store else "not running")
        return 0 if store else 1
    return 0


def cmd_cluster(args) -> int:
    """Flink in pods with its object store (ops/cluster.py, k8s/*.yaml)."""
    from ops import cluster
    cfg = load(args)
    if args.action == "images":
        print("built " + ", ".join(cluster.images(cfg)))
    elif args.action == "up":
        o = cluster.up(cfg)
        print(f"pod cluster is up: Flink at http://127.0.0.1:{cluster.REST_PORT} ({o.get('taskmanagers')} TaskManagers), "
              f"bucket gs://{cluster.BUCKET}; run with: make pipeline RUNNER=flink-pods PROFILE=pods"
              "; stop with `make cluster-down`")
    elif args.action == "down":
        removed = cluster.down(cfg)
        print(f"removed {', '.join(removed)}" if removed else "nothing recorded was running")
    elif args.action == "env":
        print("\n".join(f"export {k}={v}" for k, v in cluster.env().items()))
    else:
        print(cluster.status(cfg))
        return 0 if cluster.status_overview(cfg) else 1
    return 0


def cmd_worker(args) -> int:
    from ops import podman_service, worker_image
    section = load(args).worker
    if args.action == "build":
        built = worker_image.build(section)
        print(f"built {built['image']}: {built['size_bytes'] / 1e9:.2f} GB in {built['seconds']:.0f} s "
              f"(podman images lists it)")
    elif args.action == "inputs":
        boot, wheels = worker_image.inputs(section)
        print(f"Beam boot: {boot}\nwheels: {wheels}")
    elif args.action == "up":
        pid = podman_service.up(section)
        print(f"podman service is up (pid {pid}): DOCKER_HOST=unix://{podman_service.socket_path(section)}")
    elif args.action == "down":
        pid = podman_service.down(section)
        print(f"stopped pid {pid}" if pid else "nothing recorded was running")
    else:
        print(podman_service.status(section))
        return 0 if podman_service.running(section) else 1
    return 0


def cmd_store(args) -> int:
    from cli import inspect_runs
    from pipeline.metadata import MetadataStore
    from pipeline.runner import metadata_path
    cfg = load(args)
    path = metadata_path(cfg)
    from pipeline.store_sql import is_server
    if not is_server(path) and not os.path.exists(path):   # a server's store says so itself if it is not there
        raise ConfigError(f"{path}: no metadata store yet; run the pipeline first")
    store = MetadataStore(path)
    try:
        if args.command == "runs":
            print(inspect_runs.list_runs(store))
        elif args.command == "show":
            print(inspect_runs.show_run(store, args.run_id))
        elif args.command == "verify":
            ok, text = inspect_runs.verify_run(store, args.run_id)
            print(text)
            return 0 if ok else 1
        else:
            print(inspect_runs.lineage(store, args.artifact))
    except KeyError as e:
        what = "artifact" if args.command == "lineage" else "run"
        raise ConfigError(f"{what} {e.args[0]!r}: not found in {path}") from None
    finally:
        store.close()
    return 0


def cmd_compare(args) -> int:
    from cli.compare import compare
    cfg = load(args)
    try:
        _, text = compare(cfg.pipeline.root, args.run_a, args.run_b, args.output, args.allow_different)
    except KeyError as e:
        raise ConfigError(f"run {e.args[0]!r}: no such run under {cfg.pipeline.root}/runs") from None
    except ValueError as e:
        raise ConfigError(str(e)) from None
    _say(text)
    return 0


def cmd_predict(args) -> int:
    overrides = (list(args.set) + ([f"beam.runner={args.runner}"] if args.runner else [])
                 + ([f"predict.batch_size={args.batch_size}"] if args.batch_size is not None else [])
                 + (["predict.dark_on_light=true"] if args.dark_on_light else []))
    cfg = load(argparse.Namespace(config=args.config, set=overrides, profile=None))
    from cli.predict import run_predict
    from pipeline.packaging import with_package
    beam_args = with_package(cfg.beam_args(), os.path.join("build", "wheels"))
    facts = run_predict(cfg, beam_args, args.model, args.input, args.output)
    _say(f"predicted {facts['predictions']} {facts['input_kind']} inputs ({facts['malformed']} malformed) with "
          f"{facts['model']} on {facts['runner']} in {facts['seconds']:.1f} s -> {args.output} (run {facts['run_id']})")
    return 0
