"""Transform: `examples` -> `transform_graph` (TFT output + raw schema) and `transformed_examples`."""
import dataclasses

from components.transform.section import TransformSection
from pipeline.spec import ComponentSpec

SPEC = ComponentSpec(
    name="transform",
    section=("transform", TransformSection),
    inputs=("examples",),
    outputs=("transform_graph", "transformed_examples"),
    params=lambda cfg: {**dataclasses.asdict(cfg.transform), "num_shards": cfg.ingest.num_shards},
    executor="components.transform.executor:run",
)
