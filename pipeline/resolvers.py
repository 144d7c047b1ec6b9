"""Optional inputs found in the run history rather than produced in this run (TFX's resolvers)."""
from __future__ import annotations

from pipeline import fs


def _newest_input(store, component: str, fact: str, input_name: str, dataset: str, current_run: str,
                  skip_digest: str | None) -> dict | None:
    """The `input_name` artifact of the newest finished execution of `component`, in an earlier run on the same
    dataset that succeeded, whose facts have `fact` true, if the artifact still exists and is not the one
    with `skip_digest`."""
    for row in store.finished_executions(component, dataset, current_run):
        if not (row["facts"] or {}).get(fact):
            continue
        found = store.events(row["id"], "input").get(input_name)
        if found and found["digest"] != skip_digest and fs.exists(found["uri"]):
            return {"id": found["id"], "uri": found["uri"], "digest": found["digest"]}
    return None


def latest_blessed_model(store, dataset: str, current_run: str, candidate_digest: str | None = None) -> dict | None:
    """The model of the newest blessed evaluation of an earlier, finished run on the same dataset, if the
    model still exists. A failed or killed run never provides a baseline: it is not a run to trust.

    The candidate itself is skipped (same content digest): comparing a model with itself says nothing,
    and skipping it keeps an identical rerun's evaluator inputs, so the rerun is fully cached."""
    return _newest_input(store, "evaluator", "blessed", "model", dataset, current_run, candidate_digest)


def latest_accepted_statistics(store, dataset: str, current_run: str, current_digest: str | None = None) -> dict | None:
    """The statistics of the newest finished run on this dataset whose data passed validation without an
    override: drift is measured against data that was accepted, not against whatever ran last.

    Statistics identical to this run's (same digest) are skipped, as the baseline model skips the candidate:
    the drift would be zero."""
    return _newest_input(store, "validator", "passed", "statistics", dataset, current_run, current_digest)


RESOLVERS = {
    "previous_statistics": lambda run: latest_accepted_statistics(
        run.store, run.cfg.data.dataset, run.run_id, run.produced["statistics"]["digest"]),
    "baseline_model": lambda run: latest_blessed_model(
        run.store, run.cfg.data.dataset, run.run_id, run.produced["model"]["digest"]),
}
