"""Ingest: IDX files -> `examples` (raw SequenceExample TFRecords under Split-train/eval/test)."""
import dataclasses

from pipeline.spec import ComponentSpec

SPEC = ComponentSpec(
    name="ingest",
    inputs=("raw_data",),
    outputs=("examples",),
    params=lambda cfg: {"dataset": cfg.data.dataset, "seed": cfg.pipeline.seed, **dataclasses.asdict(cfg.ingest)},
    executor="components.ingest.executor:run",
)
