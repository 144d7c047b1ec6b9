"""The `tuner:` section of pipeline.yaml, owned by this step (declared on its ComponentSpec; pipeline.yaml
documents every key with its default, the same as here). `space` names keys of the trainer's section; what
each may hold is checked against that section (check_config), so a bad space is one line naming the key.

    python -m pipeline run --profile tune        # the tuner in the run, the space below
"""
from __future__ import annotations

import dataclasses
from typing import Optional

from components.tuner.space import check_shape, check_space, searched


def default_space() -> dict:
    """What the `tune` profile searches unless it says otherwise: the knobs that moved accuracy most when
    they were set by hand (docs/performance.md "Accuracy"). Not batch_size: with the trainer's step budget
    (max_steps) it changes how many epochs the trainer runs, which a trial's epoch budget would not follow."""
    return {
        "learning_rate": {"low": 0.0005, "high": 0.01, "log": True},
        "cell_size": {"choices": [64, 128, 192]},
        "dropout": {"low": 0.0, "high": 0.4},
        "weight_decay": {"choices": [0.0, 0.0001, 0.001]},
        "label_smoothing": {"choices": [0.0, 0.1]},
        "bidirectional": {"choices": [False, True]},
        "pool": {"choices": ["last", "last+max"]},
    }


@dataclasses.dataclass(frozen=True)
class TunerSection:
    enabled: bool = False               # true: the tuner runs before the trainer, which takes its best values
    trials: int = 16                    # trials proposed in all
    parallel: int = 2                   # trials at once: a round is one Beam job of this many
    min_epochs: int = 2                 # every trial's first budget: successive halving's first rung
    # the budget of a trial never stopped early; null: the trainer's own (trainer.epochs, capped by max_steps at
    # the trainer's batch size), so the best trial was trained as the trainer will train its values
    max_epochs: Optional[int] = None
    reduction: int = 3                  # about one trial in `reduction` goes on from a rung to the next
    seed: Optional[int] = None          # the sampler's; null: pipeline.seed
    baseline: bool = True               # trial 0 is the trainer section's own values, where the space holds them
    # trainer key -> {low, high, log} (an int or float key) or {choices: [...]} (any key); null: not searched
    space: dict = dataclasses.field(default_factory=default_space)

    # key -> (what a value must satisfy, what is expected: the error's words)
    CHECKS = {
        "trials": (lambda v: 1 <= v <= 1000, "1..1000"),
        "parallel": (lambda v: 1 <= v <= 64, "1..64"),
        "min_epochs": (lambda v: v >= 1, "at least 1"),
        "max_epochs": (lambda v: v is None or v >= 1, "at least 1, or null"),
        "reduction": (lambda v: 2 <= v <= 10, "2..10"),
        "seed": (lambda v: v is None or v >= 0, "a non-negative integer, or null"),
        "space": (bool, "at least one trainer key to search"),
    }

    def validate(self):
        from pipeline.sections import ConfigError
        if self.max_epochs is not None and self.min_epochs > self.max_epochs:
            raise ConfigError(f"tuner.min_epochs: got {self.min_epochs}; expected at most tuner.max_epochs "
                              f"({self.max_epochs})")
        check_shape(self.space, "tuner.space")
        if not searched(self.space):
            raise ConfigError("tuner.space: every key is null; expected at least one trainer key to search")

    def check_config(self, cfg):
        """Every searched key is a key of the trainer's section, every value of the kind it holds and in its
        range (the trainer section's own CHECKS)."""
        check_space(self.space, cfg.trainer, "tuner.space")
