"""Validator: `statistics` (+ the last accepted run's) vs the expectations file -> `anomalies`.

Anomalies stop the run before the Trainer unless `validation.allow_anomalies` is true (Transform runs
beside Statistics, before this step: see docs/architecture.md).
"""
from components.validator.section import ValidationSection
from pipeline.spec import ComponentSpec, FromHistory


def expectations_path(cfg) -> str:
    return cfg.validation.expectations.format(dataset=cfg.data.dataset)


SPEC = ComponentSpec(
    name="validator",
    section=("validation", ValidationSection),
    inputs=("statistics",),
    # drift is measured against the newest data that passed without an override, unless it is this run's own
    optional_inputs={"previous_statistics": FromHistory("validator", "passed", "statistics",
                                                        unless_same_as="statistics")},
    outputs=("anomalies",),
    params=lambda cfg: {"expectations": expectations_path(cfg), "allow_anomalies": cfg.validation.allow_anomalies,
                        "dataset": cfg.data.dataset},
    # Never cached: it takes milliseconds, and it must judge this run's data by the expectations file as it
    # is now (edited, or just generated), not as it was when a cached execution ran.
    cacheable=False,
    executor="components.validator.executor:run",
    headline=lambda f: "data valid" if f["passed"] else f"{len(f['anomalies'])} anomalies" + (
        " (overridden)" if f["overridden"] else ""),
    summarize=lambda f: {"data_validation": {"passed": f["passed"], "overridden": f["overridden"],
                                             "anomalies": [a["message"] for a in f["anomalies"]]}},
)
