"""Report: `evaluation` + `blessing` + run facts -> `report` (report.html, metrics.json)."""
from pipeline.spec import ComponentSpec

SPEC = ComponentSpec(
    name="report",
    inputs=("evaluation", "blessing"),
    outputs=("report",),
    params=lambda cfg: {},
    executor="components.report.executor:run",
)
