"""The pipeline's configuration as the program loads it: pipeline/config.py's loader, handed the config
sections that the DAG's steps declare (components/<step>/section.py, ComponentSpec.section), so the core
names none of them. A step added to the DAG (cli/dag.py) brings its section with it.

    python -c "from cli.config import load_config; print(load_config('pipeline.yaml').trainer)"
"""
from __future__ import annotations

from pipeline.config import ConfigError, parse_set  # noqa: F401  (what callers of the loader also need)
from pipeline.config import load_config as _load
from pipeline.sections import config_class


def sections() -> tuple:
    """(key, class) of every step's section, in the DAG's order (the run's steps, then predict's), then the
    orchestrators' (orchestration/section.py: how they launch the steps as tasks)."""
    from cli.dag import every_step
    from orchestration.section import OrchestrationSection
    return tuple(spec.section for spec in every_step() if spec.section) + (("orchestration", OrchestrationSection),)


def load_config(path=None, overrides=None, profile=None):
    """pipeline.yaml (or the code's defaults without a path), validated, with every step's section."""
    return _load(path, overrides, profile, sections())


def config_type() -> type:
    """The Config class of this DAG: config_type()() is every default."""
    return config_class(sections())
