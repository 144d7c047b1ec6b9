"""Statistics: raw `examples` -> `statistics` (statistics.json; format in README "Data statistics")."""
from pipeline.spec import ComponentSpec

SPEC = ComponentSpec(
    name="statistics",
    inputs=("examples",),
    outputs=("statistics",),
    params=lambda cfg: {"dataset": cfg.data.dataset},
    executor="components.statistics.executor:run",
)
