"""Report: every artifact it shows, read from disk, plus the runner's record of this run -> `report`."""
import dataclasses

from data.registry import dataset_info
from pipeline.spec import ComponentSpec

SPEC = ComponentSpec(
    name="report",
    inputs=("raw_data", "evaluation", "blessing", "infra_blessing", "pushed", "statistics", "anomalies", "examples",
            "model_run"),
    outputs=("report",),
    params=lambda cfg: {"config": cfg.as_dict(), "dataset": dataclasses.asdict(dataset_info(cfg.data))},   # shown in the report (never cached: it describes its run)
    cacheable=False,  # it describes this run: its id, timings, and what was cached
    executor="components.report.executor:run",
    shown_files={"report": "report.html"},
)
# in a run with the tuner (cli/dag.py): its trials and chosen values shown too
TUNED = dataclasses.replace(SPEC, inputs=SPEC.inputs + ("best_hyperparameters", "trials"))
