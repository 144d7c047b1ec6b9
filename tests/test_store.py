"""Store and DAG hygiene: one publisher per artifact name, a versioned SQLite schema (older stores are
migrated, newer ones refused with a clear message), and the resolvers' history query in the store."""
import sqlite3

import pytest

from cli import dag
from cli.main import main
from pipeline.metadata import MIGRATIONS, SCHEMA, SCHEMA_VERSION, MetadataStore, StoreVersionError
from pipeline.spec import ComponentSpec


def _spec(name, inputs, outputs):
    return ComponentSpec(name=name, inputs=inputs, outputs=outputs, params=lambda cfg: {}, executor="x:y")


def test_dag_refuses_two_publishers_of_one_artifact_name():
    assert [s.name for s in dag.components()][0] == "ingest"
    with pytest.raises(ValueError, match="output 'model' is already published by component trainer"):
        dag.check([_spec("trainer", ("raw_data",), ("model",)), _spec("retrainer", ("raw_data",), ("model",))])
    with pytest.raises(ValueError, match="already published by an external source"):
        dag.check([_spec("fake", (), ("raw_data",))])
    with pytest.raises(ValueError, match="no upstream producer"):
        dag.check([_spec("lonely", ("nothing",), ("x",))])


def test_new_store_is_current_and_a_legacy_store_is_migrated(tmp_path):
    new = MetadataStore(str(tmp_path / "new.sqlite"))
    assert new.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    new.close()
    legacy = tmp_path / "legacy.sqlite"      # the layout written before the schema had a version
    db = sqlite3.connect(legacy)
    db.executescript(SCHEMA)
    db.execute("INSERT INTO runs (run_id, status, dataset) VALUES ('r1', 'succeeded', 'mnist')")
    db.commit()
    db.close()
    store = MetadataStore(str(legacy))
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS) + 1
    assert store.db.execute("SELECT name FROM sqlite_master WHERE name='events_execution'").fetchone()
    assert [r["run_id"] for r in store.runs()] == ["r1"]
    store.close()


def test_newer_store_is_refused_with_a_clear_message(tmp_path, capsys):
    path = tmp_path / "future.sqlite"
    db = sqlite3.connect(path)
    db.executescript(SCHEMA + f"PRAGMA user_version={SCHEMA_VERSION + 7};")
    db.close()
    with pytest.raises(StoreVersionError, match=f"schema version {SCHEMA_VERSION + 7} is newer"):
        MetadataStore(str(path))
    assert main(["runs", "--set", f"pipeline.metadata={path}"]) == 2
    assert str(path) in capsys.readouterr().err


def test_history_query_lives_in_the_store(tmp_path):
    store = MetadataStore(str(tmp_path / "m.sqlite"))
    for run, status in (("old", "succeeded"), ("bad", "failed"), ("now", "running")):
        store.start_run(run, "mnist", "")
        exe = store.start_execution(run, "evaluator", "fp", "code", {}, {})
        store.finish_execution(exe, "complete", facts={"blessed": True})
        store.finish_run(run, status)
    found = store.finished_executions("evaluator", "mnist", exclude_run="now")
    assert [e["run_id"] for e in found] == ["old"] and found[0]["facts"] == {"blessed": True}
    assert store.finished_executions("evaluator", "fashion_mnist", exclude_run="now") == []
