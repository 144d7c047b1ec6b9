"""`pipeline.yaml` loaded once into frozen, validated dataclasses: the core's sections and the sections the
DAG's steps declare (ComponentSpec.section), handed in by the caller (cli/config.py knows the DAG).

Unknown keys, wrong types and out-of-range values are errors naming the key path; each section's CHECKS
says its ranges, a section's validate() what spans its keys, and its check_config(cfg) what it asks of other
sections (a search space naming another step's keys).

    python -m pipeline run --config pipeline.yaml --set trainer.epochs=2
"""
from __future__ import annotations

import dataclasses
import difflib
import typing
from typing import Any, Optional

import yaml

from pipeline.sections import (  # noqa: F401
    DATASET_CHECKS,
    FOLDER_NAME,
    NAME,
    ConfigError,
    DataSection,
    DatasetSpec,
    PipelineSection,
    config_class,
)


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
        if path == "data.datasets":
            kwargs[key] = _datasets(value, path)
        elif dataclasses.is_dataclass(hints[key]):
            kwargs[key] = _build(hints[key], value, f"{path}.")
        else:
            kwargs[key] = _coerce(path, value, hints[key])
        check = getattr(cls, "CHECKS", {}).get(key)
        if check and not check[0](kwargs[key]):
            raise ConfigError(f"{path}: got {kwargs[key]!r}; expected {check[1]}")
    built = cls(**kwargs)
    if hasattr(built, "validate"):
        built.validate()
    return built


def _cross_checked(cfg):
    """Each section's check_config(cfg), for what it asks of other sections; the Config back."""
    for field in dataclasses.fields(cfg):
        section = getattr(cfg, field.name)
        if hasattr(section, "check_config"):
            section.check_config(cfg)
    return cfg


def _datasets(raw: Any, path: str) -> dict:
    """data.datasets: {name: DatasetSpec}; a name may not shadow a registered public dataset."""
    from data.registry import DATASETS
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of dataset name -> its declaration")
    out = {}
    for name, spec in raw.items():
        where = f"{path}.{name}"
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise ConfigError(f"{where}: a dataset name is 1-40 of a-z, 0-9, _ and starts with a letter")
        if name in DATASETS:
            raise ConfigError(f"{where}: '{name}' is a registered public dataset; choose another name")
        built = _build(DatasetSpec, spec, f"{where}.")
        for key, (ok, expected) in DATASET_CHECKS.items():
            if not ok(getattr(built, key)):
                raise ConfigError(f"{where}.{key}: got {getattr(built, key)!r}; expected {expected}")
        if built.format == "images" and not FOLDER_NAME[0](built.class_names):
            raise ConfigError(f"{where}.class_names: got {built.class_names!r}; expected {FOLDER_NAME[1]}")
        if built.dark_on_light and built.format != "images":
            raise ConfigError(f"{where}.dark_on_light: applies to format 'images' only")
        out[name] = built
    return out


class _Whole(dict):
    """A mapping given as one key's value (--set data.datasets={...}, a profile's entry): it replaces that key's
    mapping instead of merging into it, so a user can say exactly what the key holds."""


def _nest(flat: dict, where: str) -> dict:
    """{'pipeline.seed': 2} -> {'pipeline': {'seed': 2}}; a mapping value stays whole (_Whole)."""
    out: dict = {}
    for key, value in flat.items():
        if not isinstance(key, str) or not key or not all(key.split(".")):
            raise ConfigError(f"{where} {key!r}: expected dotted.key=value")
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = _Whole(value) if isinstance(value, dict) else value
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
        if isinstance(v, dict) and isinstance(merged.get(k), dict) and not isinstance(v, _Whole):
            merged[k] = _merge(merged[k], v)      # a path: merge along it
        else:
            merged[k] = dict(v) if isinstance(v, dict) else v
    return merged


def load_config(path: Optional[str] = None, overrides: Optional[list[str]] = None,
                profile: Optional[str] = None, sections=()) -> Any:
    """Read YAML (safe loader), apply a profile's overrides, then --set overrides; validate into a
    frozen Config of the core's sections and `sections` ((key, class) of each step that has one). A profile
    is an entry of the top-level `profiles:` mapping (dotted key -> value)."""
    config_type = config_class(sections)
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
    _build(config_type, _merge(raw, sets), "")   # the file and --set first: their errors name no profile
    for other, values in profiles.items():  # a typo in any profile is an error now, not when it is used
        try:
            _cross_checked(_build(config_type, _merge(raw, _nest(values, f"profiles.{other}:")), ""))
        except ConfigError as e:
            raise ConfigError(f"profiles.{other}: {e}") from None
    if name is not None and name not in profiles:
        raise ConfigError(f"profile: unknown profile {name!r}; expected one of {sorted(profiles) or 'none defined'}")
    if name is not None:
        raw = _merge(raw, _nest(profiles[name], f"profiles.{name}:"))
        raw["profile"] = name
    raw = _merge(raw, sets)
    cfg = _cross_checked(_build(config_type, raw, ""))
    if cfg.beam.runner not in cfg.beam.profiles:
        raise ConfigError(f"beam.runner: unknown runner {cfg.beam.runner!r}; expected one of {sorted(cfg.beam.profiles)}")
    from data.registry import DATASETS
    known = sorted(DATASETS) + sorted(cfg.data.datasets)
    if cfg.data.dataset not in known:
        near = difflib.get_close_matches(cfg.data.dataset, known, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ConfigError(f"data.dataset: unknown dataset {cfg.data.dataset!r}; expected one of {known} "
                          f"(declare your own under data.datasets){hint}")
    if "://" in cfg.pipeline.root and not cfg.pipeline.metadata:
        raise ConfigError(f"pipeline.metadata: pipeline.root is {cfg.pipeline.root}, an object store; name a local "
                          "file for the metadata store (SQLite), e.g. --set pipeline.metadata=build/metadata.sqlite, "
                          "or a PostgreSQL server (postgresql://USER@HOST:PORT/DB)")
    cfg.beam_args()  # refuse dangerous flags at load time, not mid-run
    return cfg
