"""Validator executor: load (or, the first time, generate) the expectations and list the anomalies.

    python -m pipeline run --set validation.allow_anomalies=true   # record anomalies, train anyway
"""
from __future__ import annotations

import logging

from components.validator import expectations as ex
from components.validator.validate import ABSOLUTE, anomalies, drift
from contract import artifacts as files
from pipeline import fs
from pipeline.artifacts import join, read_file, write_file, write_text

log = logging.getLogger(__name__)


def load_or_generate(ctx, stats: dict, statistics_uri: str) -> tuple[ex.Expectations, bool]:
    path = ctx.params.expectations
    if fs.exists(path):
        with fs.open_file(path) as f:
            exp = ex.load(f.read(), path)
        if exp.dataset != ctx.params.dataset:
            raise ex.ExpectationsError(f"{path}: written for dataset {exp.dataset!r}, not {ctx.params.dataset!r}")
        return exp, False
    exp = ex.generate(stats, provenance={"run_id": ctx.run_id, "statistics": statistics_uri})
    write_text(path, ex.dump(exp))
    log.warning("%s did not exist: generated it from this run's statistics. Review it and commit it.", path)
    return exp, True


def run(ctx, inputs, outputs) -> dict:
    stats = read_file(files.STATISTICS, inputs["statistics"])
    previous_uri = inputs.get("previous_statistics")
    previous = read_file(files.STATISTICS, previous_uri) if previous_uri else None
    exp, generated = load_or_generate(ctx, stats, inputs["statistics"])
    found = anomalies(stats, exp, previous)
    allow = ctx.params.allow_anomalies
    verdict = {"passed": not found, "anomalies": found, "overridden": bool(found and allow),
               "expectations": ctx.params.expectations, "expectations_generated": generated,
               "previous_statistics": previous_uri,
               # both data versions and how far the new one moved: a reviewer sees why the model changed
               "data_versions": {"current": stats.get("data_version"),
                                 "previous": (previous or {}).get("data_version")},
               "drift_vs_previous": drift(stats, previous, exp.labels),
               # where each bound came from: the file, the run it was generated from, and the rule
               "bounds": {k: {"value": getattr(exp, k), "rule": ex.RULES[k]} for k in ex.RULES},
               "generated_from": exp.generated_from, "absolute_rules": list(ABSOLUTE)}
    fs.makedirs(outputs["anomalies"])
    write_file(files.ANOMALIES, outputs["anomalies"], verdict)
    write_text(join(outputs["anomalies"], "expectations.yaml"), ex.dump(exp))  # what was checked, for lineage
    for a in found:
        log.warning("anomaly: %s", a["message"])
    facts = {k: verdict[k] for k in ("passed", "anomalies", "overridden", "expectations", "expectations_generated")}
    if found and not allow:
        facts["stop_reason"] = (f"{len(found)} data anomal{'y' if len(found) == 1 else 'ies'} (expectations: "
                                f"{verdict['expectations']}); the run stops before training:\n"
                                + "\n".join(f"  - {a['message']}" for a in found)
                                + "\nFix the data, edit the expectations, or set validation.allow_anomalies=true.")
    return facts
