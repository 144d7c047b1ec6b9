"""Code versions come from a component's package and its import graph: editing a file of either changes
that component's fingerprint, and only those components whose key holds it; other edits change none, and
neither does a console message. The lock file, Python and machine-made choices are in the key too."""
import os
import pickle
import shutil

import pytest

from cli.dag import every_step as components  # every step a DAG here may hold (the tuner too)
from pipeline.fingerprint import NEUTRAL, closure, code_files, code_version
from tests.test_e2e import REPO


def _versions(root) -> dict:
    code_version.cache_clear()
    return {s.name: code_version(s.code_modules(), root) for s in components()}


@pytest.fixture
def tree(tmp_path):
    """A copy of the repository's sources to edit."""
    for pkg in ("pipeline", "components", "contract", "data", "modeling", "bench"):
        shutil.copytree(os.path.join(REPO, pkg), tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(REPO, "requirements.lock"), tmp_path / "requirements.lock")
    yield str(tmp_path)
    code_version.cache_clear()


def _touch(root, rel):
    with open(os.path.join(root, rel), "a") as f:
        f.write("\n# an edit\n")


def test_closures_hold_what_each_step_runs():
    of = {s.name: set(closure(s.code_modules())) for s in components()}
    # the files a hand-kept list once missed: they encode, write or load what the step produces
    assert {"contract/wire.py", "contract/shards.py", "contract/records.py"} <= of["transform"]
    assert {"contract/records.py", "data/registry.py"} <= of["evaluator"]
    assert "data/registry.py" in of["trainer"]
    for name, files in of.items():   # steps share the contract, never each other's modules
        others = {f for f in files if f.startswith("components/") and f.split("/")[1] not in (name, "__init__.py")}
        assert not others, (name, others)


def test_every_file_of_a_component_package_is_in_its_key():
    """Also what no `import` names: TFMA loads evaluator/metrics.py by module name, the serving check runs
    infra_validator/probe.py as a script."""
    for spec in components():
        folder = os.path.dirname(os.path.join(REPO, *spec.code_modules()[0].split(".")))
        files = {os.path.relpath(os.path.join(d, f), REPO) for d, dirs, fs in os.walk(folder) for f in fs
                 if "__pycache__" not in d}
        assert files and files <= set(code_files(spec.code_modules())), (spec.name, files - set(code_files(spec.code_modules())))
    assert "components/evaluator/metrics.py" not in closure(("components.evaluator.executor",))   # why it matters


@pytest.mark.parametrize("rel", ["contract/wire.py", "data/registry.py", "components/pusher/executor.py",
                                 "components/report/render.py", "components/evaluator/metrics.py",
                                 "components/infra_validator/probe.py", "modeling/model.py"])
def test_an_edit_changes_exactly_the_components_that_import_it(tree, rel):
    before = _versions(tree)
    holders = {s.name for s in components() if rel in code_files(s.code_modules(), tree)}
    assert holders, rel
    _touch(tree, rel)
    after = _versions(tree)
    assert {n for n in before if before[n] != after[n]} == holders


@pytest.mark.parametrize("rel", ["bench/e2e.py", *NEUTRAL])
def test_an_unrelated_edit_or_a_console_message_changes_nothing(tree, rel):
    before = _versions(tree)
    assert any(rel in closure(s.code_modules(), tree) for s in components()) or rel.startswith("bench/")
    _touch(tree, rel)
    assert _versions(tree) == before


def test_the_lock_file_changes_every_key(tree):
    before = _versions(tree)
    _touch(tree, "requirements.lock")
    after = _versions(tree)
    assert all(before[n] != after[n] for n in before)


def test_precision_auto_is_resolved_from_the_machine_into_the_trainers_params(monkeypatch):
    from cli.config import load_config
    from modeling import precision
    spec = {s.name: s for s in components()}["trainer"]
    cfg = load_config(os.path.join(REPO, "pipeline.yaml"), overrides=["trainer.precision=auto"])
    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx2"})
    monkeypatch.setattr(precision, "visible_gpus", lambda: 0)
    cpu = spec.declared_params(cfg)
    monkeypatch.setattr(precision, "visible_gpus", lambda: 1)
    gpu = spec.declared_params(cfg)
    assert (cpu["precision"], gpu["precision"]) == ("float32", "mixed_bfloat16")
    assert "auto" in cpu["precision_reason"] and cpu["precision_reason"] != gpu["precision_reason"]


def test_lazy_relative_and_submodule_imports_count(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    for name, text in {"__init__.py": "", "sub/__init__.py": "", "sub/leaf.py": "X = 1\n",
                       "lazy.py": "Y = 2\n", "rel.py": "Z = 3\n",
                       "main.py": "from pkg.sub import leaf\nfrom . import rel\n\ndef f():\n    import pkg.lazy\n"}.items():
        (pkg / name).write_text(text)
    assert closure(("pkg.main",), str(tmp_path)) == (
        "pkg/__init__.py", "pkg/lazy.py", "pkg/main.py", "pkg/rel.py", "pkg/sub/__init__.py", "pkg/sub/leaf.py")


def test_executors_get_only_hashed_params_and_each_changes_the_fingerprint():
    import dataclasses

    from cli.config import load_config
    from pipeline.fingerprint import execution_fingerprint
    from pipeline.spec import ExecContext, Params
    cfg = load_config(os.path.join(REPO, "pipeline.yaml"))
    assert "config" not in {f.name for f in dataclasses.fields(ExecContext)}   # the whole config is out of reach
    for spec in components():
        declared = spec.declared_params(cfg)
        params = Params(declared)
        with pytest.raises(AttributeError, match="not declared by the component"):
            getattr(params, "some_undeclared_value")
        with pytest.raises(AttributeError):
            params.seed = 1
        assert dict(pickle.loads(pickle.dumps(params))) == declared   # travels to Beam workers intact
        base = execution_fingerprint(spec.name, "code", declared, {})
        for key, value in declared.items():   # every value an executor can read is part of its fingerprint
            changed = dict(declared, **{key: ("x", value)})
            assert execution_fingerprint(spec.name, "code", changed, {}) != base, (spec.name, key)


def test_dataset_is_declared_where_it_changes_the_output():
    from cli.config import load_config
    cfg = load_config(os.path.join(REPO, "pipeline.yaml"))
    for spec in components():
        if spec.name in ("ingest", "statistics", "validator", "trainer", "evaluator", "pusher"):
            assert spec.declared_params(cfg)["dataset"] == "mnist", spec.name
