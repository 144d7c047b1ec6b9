"""pipeline.yaml loading: defaults, overrides and every kind of bad value, reported by key path."""
import dataclasses

import pytest

from pipeline.config import Config, ConfigError, load_config, parse_set


def test_repository_config_loads():
    cfg = load_config("pipeline.yaml")
    assert isinstance(cfg, Config) and cfg.data.dataset == "mnist"
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
    with pytest.raises(ConfigError, match=r"profile: unknown profile 'ful'; expected one of \['full', 'tutorial'\]"):
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
