"""Ingest: IDX files or an image folder -> `examples` (raw SequenceExample TFRecords, Split-train/eval/test).

It runs in a process of its own (pipeline/isolated.py) that never imports TensorFlow; meanwhile the
pipeline process imports the next step's (transform's) TensorFlow, Beam and TFT, on the other core.
"""
import dataclasses

from components.ingest.section import IngestSection
from data.registry import dataset_info
from pipeline.spec import ComponentSpec


def counts(f: dict) -> str:
    """records per split, and the malformed ones: ingest's and statistics' console line."""
    bad = f.get("records_malformed", f.get("malformed"))
    return ", ".join(f"{k} {v}" for k, v in f["records"].items()) + (f"; {bad} malformed" if bad else "")


def _params(cfg) -> dict:
    info = dataset_info(cfg.data)
    return {"dataset": cfg.data.dataset, "seed": cfg.pipeline.seed, "class_names": info.class_names,
            "format": info.format, "dark_on_light": info.dark_on_light, **dataclasses.asdict(cfg.ingest)}


SPEC = ComponentSpec(
    name="ingest",
    section=("ingest", IngestSection),
    inputs=("raw_data",),
    outputs=("examples",),
    params=_params,
    executor="components.ingest.executor:run",
    process=True,
    headline=counts,
    summarize=lambda f: {"records": f["records"], "split_digest": f["split_digest"]},
)
