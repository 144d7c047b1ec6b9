"""Statistics: raw `examples` -> `statistics` (statistics.json; format in README "Data statistics")."""
from data.registry import dataset_info
from pipeline.spec import ComponentSpec

SPEC = ComponentSpec(
    name="statistics",
    inputs=("examples",),
    outputs=("statistics",),
    params=lambda cfg: {"dataset": cfg.data.dataset, "class_names": dataset_info(cfg.data).class_names},
    executor="components.statistics.executor:run",
)
