"""Which of the flags `python -m pipeline run` did not know are Beam's: a typo of one of ours (`--no_cache`)
must be an error with a suggestion, not a flag handed to Beam and silently ignored there.

    python -m pipeline run --runner flink --parallelism=4            # known to Beam: passed on
    python -m pipeline run -- --my_custom_option=1                   # after `--`: passed on unchecked
"""
from __future__ import annotations

import argparse
import difflib
import functools


@functools.lru_cache(maxsize=1)
def declare_java_flink_options() -> type:
    """Declare, as a PipelineOptions subclass, a Java Flink runner option that Beam's Python SDK does not:
    PortableRunner sends the job server only the options some Python class declares, and drops the rest
    without a word.

    --execution_mode_for_batch (FlinkPipelineOptions.executionModeForBatch, PIPELINED by default):
    BATCH_FORCED makes every exchange between a job's stages blocking, so a stage's subtasks start only
    once the stage before has ended. A job that needs its last stage's subtasks on different SDK workers
    sets it: Beam's DefaultJobBundleFactory hands each stage subtask the next of its environments in the
    order the subtasks open, and pipelined stages open in any order.
    """
    from apache_beam.options.pipeline_options import PipelineOptions

    class JavaFlinkOptions(PipelineOptions):
        @classmethod
        def _add_argparse_args(cls, parser):
            parser.add_argument("--execution_mode_for_batch", default=None,
                                help="Flink's data exchange for batch jobs: PIPELINED, BATCH_FORCED, ...")
    return JavaFlinkOptions   # held by the cache: Beam finds options classes through weak references


@functools.lru_cache(maxsize=1)
def beam_option_names() -> frozenset[str]:
    """Every --flag that Beam's PipelineOptions subclasses (the runners', the SDK's, ours) declare."""
    import apache_beam.runners.portability.flink_runner  # noqa: F401  (registers FlinkRunnerOptions' users)
    declare_java_flink_options()
    from apache_beam.options.pipeline_options import PipelineOptions
    parser = argparse.ArgumentParser(add_help=False, conflict_handler="resolve")
    todo, seen = [PipelineOptions], set()
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        todo.extend(cls.__subclasses__())
        try:
            cls._add_argparse_args(parser)
        except argparse.ArgumentError:   # two subclasses may declare the same flag
            pass
    return frozenset(s for s in parser._option_string_actions if s.startswith("--"))


def split(unknown: list[str], ours: list[str]) -> list[str]:
    """The Beam flags among `unknown`; raise ValueError naming the first flag that is neither Beam's
    nor after a `--` separator, with the closest known flag as a suggestion."""
    if "--" in unknown:
        cut = unknown.index("--")
        return split(unknown[:cut], ours) + unknown[cut + 1:]
    if not any(token.startswith("--") for token in unknown):
        return unknown   # nothing to check: importing Beam to list its flags costs 2-3 s of a cached run
    known = beam_option_names()
    for token in unknown:
        if not token.startswith("--"):
            continue
        name = token.split("=", 1)[0]
        if name not in known:
            close = difflib.get_close_matches(name, list(ours) + sorted(known), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ValueError(f"unknown flag {name}{hint} (Beam's own flags pass through; put others after --)")
    return unknown
