"""Command line: run the pipeline, or summarise a past run.

    python -m pipeline run --config pipeline.yaml [--set trainer.epochs=2] [--runner direct-mp] [beam flags]
    python -m pipeline report [RUN_ID]
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from pipeline.config import ConfigError, load_config

DEFAULT_CONFIG = "pipeline.yaml"


def configure_environment() -> None:
    """Settings that must be in place before TensorFlow is first imported."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"          # Keras 2 everywhere (see components/trainer/model.py)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the whole pipeline; unknown flags go to Beam untouched")
    run.add_argument("--config", default=DEFAULT_CONFIG)
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    run.add_argument("--runner", help="Beam runner profile from pipeline.yaml (beam.profiles)")
    report = sub.add_parser("report", help="print a run's summary and the path of its HTML report")
    report.add_argument("run_id", nargs="?", help="default: the latest run")
    report.add_argument("--config", default=DEFAULT_CONFIG)
    return parser


def _cmd_run(args, beam_flags: list[str]) -> int:
    overrides = list(args.set) + ([f"beam.runner={args.runner}"] if args.runner else [])
    overrides += [f"beam.extra_args={beam_flags!r}"] if beam_flags else []
    cfg = load_config(args.config if os.path.exists(args.config) or args.config != DEFAULT_CONFIG else None,
                      overrides)
    from pipeline.runner import run_pipeline
    summary = run_pipeline(cfg, cfg.beam_args())
    print(_describe(summary))
    return 0


def _describe(summary: dict) -> str:
    lines = [f"run {summary['run_id']}: {summary['status']}"]
    if summary.get("source"):
        src = summary["source"]
        lines.append(f"data: {src['dataset']} from {src['kind']} ({src['location']})" + (f" -- {src['note']}" if src.get("note") else ""))
    for name, c in summary.get("components", {}).items():
        lines.append(f"  {name:<10} {c['status']:<10} {c.get('seconds', 0):8.1f} s")
    if "metrics" in summary:
        m = summary["metrics"]
        lines.append(f"accuracy on {m['split']} ({m['examples']} examples): {m['accuracy']:.4f}; "
                     f"{'BLESSED' if summary['blessed'] else 'NOT BLESSED'}")
        lines.append(f"report: {summary['artifacts']['report']}")
    if summary.get("error"):
        lines.append(f"error: {summary['error']}")
    return "\n".join(lines)


def _cmd_report(args) -> int:
    from pipeline import artifacts as af
    cfg = load_config(args.config if os.path.exists(args.config) else None)
    runs = af.join(cfg.pipeline.root, "runs")
    run_id = args.run_id
    if not run_id:
        latest = af.join(runs, "latest")
        if not af.gfile().exists(latest):
            raise ConfigError(f"{latest}: no finished run yet; run 'make pipeline' first")
        with af.gfile().GFile(latest) as f:
            run_id = f.read().strip()
    path = af.join(runs, run_id, "summary.json")
    if not af.gfile().exists(path):
        raise ConfigError(f"run {run_id!r}: no such run under {runs}")
    print(_describe(af.read_json(path)))
    return 0


def main(argv: list[str] | None = None) -> int:
    configure_environment()
    args, beam_flags = _parser().parse_known_args(argv)
    from data.acquire import DataError
    from data.idx import IdxError
    try:
        if args.command == "run":
            return _cmd_run(args, beam_flags)
        if beam_flags:
            raise ConfigError(f"unrecognized arguments: {' '.join(beam_flags)}")
        return _cmd_report(args)
    except (ConfigError, DataError, IdxError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
