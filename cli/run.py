"""`python -m pipeline run` without the command line: this pipeline's DAG (cli/dag.py) on the core runner
(pipeline/runner.py), with the services its runner profile needs (ops/services.py), and the run-history
page rewritten after every run, whatever its end (cli/history.py).

    from cli.run import run_pipeline; run_pipeline(load_config("pipeline.yaml"), ["--runner=DirectRunner"])
"""
from __future__ import annotations


def run_pipeline(cfg, beam_args: list[str], run_id: str | None = None, no_cache: bool = False,
                 invalidate: tuple = ()) -> dict:
    """Run every step; return the summary that is also written to summary.json."""
    from cli.dag import components
    from cli.history import write_index
    from ops.services import for_runner
    from pipeline.runner import run

    return run(cfg, beam_args, components(cfg), services=for_runner(beam_args), run_id=run_id, no_cache=no_cache,
               invalidate=invalidate, after=write_index)
