"""pipeline.yaml loading: defaults, overrides and every kind of bad value, reported by key path."""
import dataclasses
import os

import pytest

from cli.config import ConfigError, load_config, parse_set


def test_repository_config_loads():
    cfg = load_config("pipeline.yaml")
    assert type(cfg).__name__ == "Config" and cfg.data.dataset == "mnist"
    assert cfg.beam_args()[0] == "--runner=FnApiRunner"
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.trainer.epochs = 9


def test_set_overrides_with_yaml_types():
    cfg = load_config("pipeline.yaml", ["trainer.epochs=7", "trainer.steps_per_epoch=null", "ingest.eval_fraction=0.25"])
    assert (cfg.trainer.epochs, cfg.trainer.steps_per_epoch, cfg.ingest.eval_fraction) == (7, None, 0.25)
    assert parse_set(["a.b.c=1"]) == {"a": {"b": {"c": 1}}}


@pytest.mark.parametrize("override, message", [
    ("trainer.epoch=2", "trainer.epoch: unknown key; did you mean 'trainer.epochs'?"),
    ("trainr.epochs=2", "trainr: unknown key; did you mean 'trainer'?"),
    ("trainer.epochs=two", "trainer.epochs: got 'two' (str); expected int"),
    ("trainer.epochs=true", "trainer.epochs: got True (bool); expected int"),
    ("trainer.learning_rate=-0.1", "trainer.learning_rate: got -0.1; expected a positive number"),
    ("ingest.eval_fraction=0", "ingest.eval_fraction: got 0.0; expected a fraction strictly between 0 and 1"),
    ("ingest.eval_fraction=1", "ingest.eval_fraction: got 1.0; expected a fraction strictly between 0 and 1"),
    ("beam.runner=spark", "beam.runner: unknown runner 'spark'"),
    ("data.dataset=cifar", "data.dataset: unknown dataset 'cifar'"),
    ("trainer=3", "trainer: expected a mapping"),
    ("novalue", "expected dotted.key=value"),
    ("pusher.serving_dir=../../elsewhere", "pusher.serving_dir: got '../../elsewhere'; expected a local path or gs://"),
])
def test_bad_values_name_their_key(override, message):
    with pytest.raises(ConfigError) as err:
        load_config("pipeline.yaml", [override])
    assert message in str(err.value)


def test_multi_threading_is_refused():
    with pytest.raises(ConfigError, match="multi_threading.*loses records"):
        load_config("pipeline.yaml", ["beam.extra_args=[--direct_running_mode=multi_threading]"])


def test_yaml_is_parsed_safely(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("pipeline: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(bad))


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(str(tmp_path / "nope.yaml"))


def test_profile_applies_and_set_still_wins():
    full = load_config("pipeline.yaml", profile="full")
    assert full.profile == "full" and full.trainer.bidirectional and full.trainer.lr_schedule == "cosine"
    assert load_config("pipeline.yaml").profile is None
    mine = load_config("pipeline.yaml", ["trainer.epochs=2", "profile=full"])
    assert mine.profile == "full" and mine.trainer.epochs == 2 and mine.trainer.dropout == full.trainer.dropout


def test_profiles_are_validated_even_when_unused(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("profiles:\n  fast:\n    trainer.epoch: 1\n")
    with pytest.raises(ConfigError, match=r"profiles.fast: trainer.epoch: unknown key; did you mean 'trainer.epochs'"):
        load_config(str(bad))
    with pytest.raises(ConfigError, match=r"profile: unknown profile 'ful'; expected one of \['full', 'pods', 'tune', 'tutorial'\]"):
        load_config("pipeline.yaml", profile="ful")


@pytest.mark.parametrize("root, ok", [("gs://my-bucket/root", True), ("/data/root", True), ("rel/root", True),
                                      ("s3://bucket/root", False), ("hdfs://nn/root", False), ("az://c/r", False),
                                      ("ram://x/y", False), ("gs://", False)])
def test_storage_schemes(root, ok):
    """Only roots every step can open: a local path or gs:// (TensorFlow 2.21 implements no other)."""
    sets = [f"pipeline.root={root}", "pipeline.metadata=m.sqlite"]
    if ok:
        assert load_config(None, sets).pipeline.root == root
    else:
        with pytest.raises(ConfigError, match=r"^pipeline.root: got .*; expected a local path or gs://BUCKET/PATH"):
            load_config(None, sets)


def test_a_gs_root_needs_a_local_metadata_store():
    with pytest.raises(ConfigError, match=r"^pipeline.metadata: pipeline.root is gs://b-1/r, an object store"):
        load_config(None, ["pipeline.root=gs://b-1/r"])
    with pytest.raises(ConfigError, match=r"^pipeline.metadata: got 'gs://b-1/m.sqlite'; expected a local file"):
        load_config(None, ["pipeline.root=gs://b-1/r", "pipeline.metadata=gs://b-1/m.sqlite"])


def _leaves(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v and k != "profiles":
            out |= _leaves(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def test_the_code_defaults_are_the_files():
    """pipeline.yaml holds every key with its default; the dataclasses hold the same values, so a config
    file that leaves a key out gets what pipeline.yaml documents (only beam.profiles grows there: the
    cluster profiles)."""
    import yaml
    code = _leaves(load_config(None).as_dict())
    raw = yaml.safe_load(open("pipeline.yaml"))
    raw.pop("profiles")
    written = _leaves(raw)
    assert sorted(set(code) - set(written) - {"profile"}) == []    # every key is in the file, documented
    file = _leaves(load_config("pipeline.yaml").as_dict())
    differ = {k: (code[k], file[k]) for k in code if k != "beam.profiles" and code[k] != file[k]}
    assert differ == {}
    assert code["beam.profiles"].items() <= file["beam.profiles"].items()


def test_every_key_of_the_file_says_what_it_does():
    import re
    section, bare = None, []
    for number, line in enumerate(open("pipeline.yaml").read().splitlines(), 1):
        if re.match(r"^[a-z_]+:", line):
            section = line.split(":")[0]
        if section != "profiles" and re.match(r"^  [a-z_]+:", line) and "#" not in line:
            bare.append(f"{number}: {line}")
    assert bare == []


def test_a_missing_config_file_is_an_error_not_the_code_defaults(tmp_path):
    import subprocess
    import sys
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-m", "pipeline", "runs"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": repo})
    assert done.returncode == 2
    assert f"pipeline.yaml: not found in {tmp_path}" in done.stderr


def test_each_step_owns_its_section_and_the_core_names_none():
    """A step's section lives in its package and comes in through its spec (issue #40: a new step must not
    teach the core about itself): the core's sources name no step's section, and a DAG without a step has
    no section of it."""
    import pathlib
    import re

    from cli.config import sections
    from pipeline.config import load_config as core_load
    keys = [key for key, _ in sections()]
    assert {"ingest", "validation", "trainer", "evaluator", "infra_validator", "pusher", "predict"} <= set(keys)
    for key, cls in sections():   # the steps' own, and the orchestrators' (orchestration/section.py)
        assert cls.__module__.endswith(".section") and cls.__module__.split(".")[0] in ("components",
                                                                                      "orchestration"), cls
    core = "\n".join(f.read_text() for f in pathlib.Path("pipeline").glob("*.py"))
    named = sorted(k for k in keys if re.search(rf"\b(cfg|config)\.{k}\b|[\"']{k}\.[a-z_]+[\"']", core))
    assert named == []
    bare = core_load(None)
    assert not hasattr(bare, "trainer") and bare.pipeline.seed == 42
    with pytest.raises(ConfigError, match=r"trainer: unknown key"):
        core_load(None, ["trainer.epochs=2"])


def test_a_section_checks_its_own_ranges_and_what_spans_its_keys():
    with pytest.raises(ConfigError, match=r"trainer.cell_size: got 0; expected 1..4096"):
        load_config(None, ["trainer.cell_size=0"])
    with pytest.raises(ConfigError, match=r"ingest.test_fraction: 0.5 with ingest.eval_fraction 0.5 leaves no "
                                          r"training data"):
        load_config(None, ["ingest.test_fraction=0.5", "ingest.eval_fraction=0.5"])
