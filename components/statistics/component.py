"""Statistics: raw `examples` -> `statistics` (contract/artifacts.py STATISTICS; format in docs/architecture.md "Data statistics and validation").

It needs nothing of transform, nor transform of it, so it runs beside transform (background), in a
process of its own so that each has a core (pipeline/isolated.py); the validator then waits for it.
"""
from data.registry import dataset_info
from pipeline.spec import ComponentSpec

SPEC = ComponentSpec(
    name="statistics",
    inputs=("examples",),
    outputs=("statistics",),
    params=lambda cfg: {"dataset": cfg.data.dataset, "class_names": dataset_info(cfg.data).class_names},
    executor="components.statistics.executor:run",
    background=True,
    process=True,
    headline=lambda f: ", ".join(f"{k} {v}" for k, v in f["records"].items()) + (
        f"; {f['malformed']} malformed" if f.get("malformed") else ""),
)
