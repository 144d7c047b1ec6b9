"""Optional inputs found in the run history rather than produced in this run (TFX's resolvers). What to look
for is declared on the step that takes the input (pipeline/spec.py `FromHistory`); this module knows no step.

A failed or killed run never provides one: it is not a run to trust.
"""
from __future__ import annotations

from pipeline import fs


def resolve(want, store, dataset: str, current_run: str, produced: dict) -> dict | None:
    """The artifact `want` (a FromHistory) names, or None when no earlier run offers one that still exists."""
    skip = (produced.get(want.unless_same_as) or {}).get("digest")
    for row in store.finished_executions(want.component, dataset, current_run):
        if not (row["facts"] or {}).get(want.fact):
            continue
        found = store.events(row["id"], "input").get(want.input)
        if found and found["digest"] != skip and fs.exists(found["uri"]):
            return {"id": found["id"], "uri": found["uri"], "digest": found["digest"]}
    return None
