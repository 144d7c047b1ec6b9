"""Expectations: what the data must look like, in a YAML file the user reviews and edits.

Generated once from a trusted run's statistics (like TFX SchemaGen's schema), then kept in the
repository. Distances between distributions are L-infinity on normalized histograms: the largest
difference in share of any one bin (a label's share, or one of 16 intensity bins), between 0 and 1.

    python -m pipeline expectations --from RUN_ID     # regenerate from a run you trust
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional

import yaml

from contract.errors import PipelineError

FORMAT_VERSION = 1


class ExpectationsError(PipelineError, ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class Expectations:
    dataset: str
    labels: tuple[int, ...]                 # every split has every one of these, and nothing else
    image_shape: tuple[int, int]            # rows (time steps) x width
    intensity_range: tuple[float, float]    # pixel values stay inside
    min_count: dict                         # split -> minimum number of records
    max_class_imbalance: float              # most / least frequent label, per split
    max_label_drift: float                  # L-inf of label shares: train vs other splits, and vs previous run
    max_intensity_drift: float              # L-inf of the 16-bin pixel histogram shares, the same pairs
    max_empty_fraction: float               # images with no pixel above 0, per split
    max_saturated_fraction: float           # images with >= 90% of pixels at 255, per split
    max_cross_split_duplicates: int         # identical images shared by two splits (an eval leak), per pair
    every_label_from: int = 0               # a split this large must hold every label (train always must);
                                            # a smaller one may miss a rare label by chance
    format_version: int = FORMAT_VERSION
    generated_from: Optional[dict] = None   # run id and statistics digest, for the record


def shares(counts: dict, keys) -> list[float]:
    total = sum(counts.get(k, 0) for k in keys)
    return [counts.get(k, 0) / total if total else 0.0 for k in keys]


def linf(a: list[float], b: list[float]) -> float:
    return max((abs(x - y) for x, y in zip(a, b)), default=0.0)


def label_shares(split: dict, labels) -> list[float]:
    return shares(split.get("labels", {}), [str(k) for k in labels])


def pixel_shares(split: dict) -> list[float]:
    counts = split.get("pixel_histogram", {}).get("counts", [])
    total = sum(counts)
    return [c / total for c in counts] if total else []


def _imbalance(split: dict, labels) -> float:
    """Most / least frequent label among those present (a missing label is the labels rule's business)."""
    counts = [c for c in (split.get("labels", {}).get(str(k), 0) for k in labels) if c]
    return max(counts) / min(counts) if counts else 1.0


# How generate() sets each bound from the trusted run (the report shows these beside the values).
RULES = {
    "min_count": "half of each split's count in the trusted run",
    "max_class_imbalance": "1.5x the trusted run's worst split, at least 2",
    "max_label_drift": "2x the trusted run's largest train-vs-split drift, at least 0.05",
    "max_intensity_drift": "2x the trusted run's largest train-vs-split drift, at least 0.02",
    "max_empty_fraction": "2x the trusted run's largest share, at least 0.01, at most 1",
    "max_saturated_fraction": "2x the trusted run's largest share, at least 0.01, at most 1",
    "max_cross_split_duplicates": "the trusted run's count plus 0.1% of train",
    "every_label_from": "10 records per label, and above every trusted split that missed a label",
}


def generate(statistics: dict, labels: Optional[tuple[int, ...]] = None,
             provenance: Optional[dict] = None) -> Expectations:
    """Bounds from a trusted run: each observed value with room for ordinary variation (documented).

    labels: the expected classes; by default every class the statistics counted (num_classes)."""
    if labels is None:
        labels = tuple(range(statistics.get("num_classes", 10)))   # older statistics: ten-class datasets only
    provenance = provenance or {}
    splits = statistics["splits"]
    train = splits.get("train", {})
    others = [s for s in splits if s != "train"]
    label_drift = max((linf(label_shares(train, labels), label_shares(splits[s], labels)) for s in others), default=0)
    pixel_drift = max((linf(pixel_shares(train), pixel_shares(splits[s])) for s in others), default=0)
    imbalance = max(_imbalance(v, labels) for v in splits.values())
    frac = lambda key: max((v.get(key, 0) / v["count"] for v in splits.values() if v["count"]), default=0.0)
    fraction = lambda key: round(min(1.0, max(0.01, 2 * frac(key))), 4)   # a share: never above 1  # noqa: E731
    missed = [v["count"] for v in splits.values() if any(not v.get("labels", {}).get(str(k)) for k in labels)]
    shared = max(statistics.get("cross_split_duplicates", {}).values(), default=0)
    return Expectations(
        dataset=statistics["dataset"], labels=tuple(labels),
        image_shape=(train["shape"]["rows"][1], train["shape"]["width"][1]),
        intensity_range=(0.0, 255.0),
        min_count={s: v["count"] // 2 for s, v in splits.items()},       # half of what the trusted run had
        max_class_imbalance=round(max(2.0, 1.5 * imbalance), 3),
        max_label_drift=round(max(0.05, 2 * label_drift), 4),
        max_intensity_drift=round(max(0.02, 2 * pixel_drift), 4),
        max_empty_fraction=fraction("empty"),
        max_saturated_fraction=fraction("saturated"),
        max_cross_split_duplicates=int(shared + math.ceil(0.001 * train.get("count", 0))),
        every_label_from=max([10 * len(labels)] + [n + 1 for n in missed]),
        generated_from=provenance)


HEADER = """\
# Expectations for the {dataset} data: the validator stops the pipeline before training when the
# statistics of a run break any of these. Generated from a trusted run; review and edit like code.
# Drifts are L-infinity distances between normalized histograms (largest difference in the share of
# any one label, or of one of 16 intensity bins), compared train vs eval/test and vs the previous
# accepted run. Rules used to generate the bounds: docs/architecture.md "Data statistics and validation".
"""


def dump(exp: Expectations) -> str:
    body = dataclasses.asdict(exp)
    body["labels"], body["image_shape"], body["intensity_range"] = (list(exp.labels), list(exp.image_shape),
                                                                    list(exp.intensity_range))
    return HEADER.format(dataset=exp.dataset) + yaml.safe_dump(body, sort_keys=False, default_flow_style=None)


def load(text: str, where: str) -> Expectations:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ExpectationsError(f"{where}: not valid YAML: {e}") from None
    fields = {f.name for f in dataclasses.fields(Expectations)}
    if not isinstance(raw, dict):
        raise ExpectationsError(f"{where}: expected a mapping of expectations")
    unknown, missing = set(raw) - fields, {f.name for f in dataclasses.fields(Expectations)
                                           if f.default is dataclasses.MISSING} - set(raw)
    if unknown or missing:
        raise ExpectationsError(f"{where}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
    if raw.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
        raise ExpectationsError(f"{where}: format_version {raw['format_version']}; expected {FORMAT_VERSION}")
    try:
        return Expectations(**{**raw, "labels": tuple(int(v) for v in raw["labels"]),
                               "image_shape": tuple(int(v) for v in raw["image_shape"]),
                               "intensity_range": tuple(float(v) for v in raw["intensity_range"]),
                               "min_count": {str(k): int(v) for k, v in raw["min_count"].items()}})
    except (TypeError, ValueError, AttributeError) as e:
        raise ExpectationsError(f"{where}: {e}") from None
