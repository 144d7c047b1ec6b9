"""The search space: pipeline.yaml's tuner.space checked against the trainer's section, and turned into
Optuna's distributions (what its samplers draw from).

    python -c "import dataclasses; from cli.config import config_type; from components.tuner.space import \
distributions; c = config_type()(); print(distributions(c.tuner.space, dataclasses.asdict(c.trainer)))"
"""
from __future__ import annotations

import dataclasses
import difflib

from pipeline.sections import ConfigError

# trainer keys a trial's budget or the machine decides, never the search
NOT_SEARCHED = ("epochs", "max_steps", "steps_per_epoch", "early_stopping", "checkpoint_steps", "deterministic",
                "precision", "shuffle_buffer")


def searched(space: dict) -> dict:
    return {k: v for k, v in space.items() if v is not None}


def check_shape(space: dict, where: str) -> None:
    """Each entry is {low, high[, log]} or {choices: [...]}, before the trainer's keys are known; null drops a
    key (a profile or --set merges into pipeline.yaml's space: `--set tuner.space.dropout=null`)."""
    for key, spec in searched(space).items():
        at = f"{where}.{key}"
        if not isinstance(spec, dict) or not (set(spec) in ({"low", "high"}, {"low", "high", "log"}, {"choices"})):
            raise ConfigError(f"{at}: got {spec!r}; expected {{low: A, high: B}} (log: true for a log scale) "
                              "or {choices: [A, B, ...]}")
        if "choices" in spec and (not isinstance(spec["choices"], list) or not spec["choices"]):
            raise ConfigError(f"{at}.choices: got {spec['choices']!r}; expected a non-empty list")
        if "low" in spec:
            low, high = spec["low"], spec["high"]
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
                raise ConfigError(f"{at}: got low {low!r}, high {high!r}; expected two numbers")
            if not low < high:
                raise ConfigError(f"{at}: got low {low!r}, high {high!r}; expected low < high (a range with room to search)")
            if spec.get("log") and low <= 0:
                raise ConfigError(f"{at}.low: got {low!r}; expected a positive number on a log scale")
            if not isinstance(spec.get("log", False), bool):
                raise ConfigError(f"{at}.log: got {spec['log']!r}; expected true or false")


def check_space(space: dict, trainer, where: str) -> None:
    """Every key names a searchable trainer key; every value is of that key's kind and passes its check."""
    fields = {f.name: getattr(trainer, f.name) for f in dataclasses.fields(trainer)}
    checks = getattr(type(trainer), "CHECKS", {})
    for key, spec in searched(space).items():
        at = f"{where}.{key}"
        if key not in fields or key in NOT_SEARCHED:
            near = difflib.get_close_matches(str(key), [k for k in fields if k not in NOT_SEARCHED], n=1)
            why = "the trial's budget or the machine decides it" if key in NOT_SEARCHED else "unknown trainer key"
            hint = f"; did you mean '{where}.{near[0]}'?" if near and key not in NOT_SEARCHED else ""
            raise ConfigError(f"{at}: {why}; expected a key of the trainer section{hint}")
        kind = type(fields[key])
        values = spec["choices"] if "choices" in spec else [spec["low"], spec["high"]]
        if "low" in spec and kind not in (int, float):
            raise ConfigError(f"{at}: trainer.{key} holds a {kind.__name__}; expected {{choices: [...]}}, not a range")
        for value in values:
            ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool)) or \
                (kind is float and isinstance(value, int) and not isinstance(value, bool))
            if not ok:
                raise ConfigError(f"{at}: got {value!r} ({type(value).__name__}); expected a value of type {kind.__name__}, "
                                  f"as trainer.{key} holds")
            if key in checks and not checks[key][0](value):
                raise ConfigError(f"{at}: got {value!r}; trainer.{key} expects {checks[key][1]}")


def distributions(space: dict, defaults) -> dict:
    """tuner.space -> {trainer key: optuna distribution}; a key whose default (the trainer's params) is an int
    is drawn as an int."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    out = {}
    for key, spec in sorted(searched(space).items()):
        if "choices" in spec:
            out[key] = CategoricalDistribution(tuple(spec["choices"]))
        elif isinstance(defaults[key], int):
            out[key] = IntDistribution(int(spec["low"]), int(spec["high"]), log=spec.get("log", False))
        else:
            out[key] = FloatDistribution(float(spec["low"]), float(spec["high"]), log=spec.get("log", False))
    return out


def within(distributions: dict, values: dict) -> dict | None:
    """values (the trainer's own) for the searched keys, or None when one lies outside its distribution."""
    picked = {k: values[k] for k in distributions}
    ok = all(picked[k] in d.choices if hasattr(d, "choices") else d.low <= picked[k] <= d.high
             for k, d in distributions.items())
    return picked if ok else None
