"""The metadata store, in the spirit of ML Metadata: runs, executions, artifacts and the input/output events
between them. It decides caching and answers lineage questions. A SQLite file by default; a PostgreSQL
server (`pipeline.metadata: postgresql://...`) where steps run as tasks on separate machines
(pipeline/store_sql.py).

    python -m pipeline runs | python -m pipeline show RUN | python -m pipeline lineage ARTIFACT
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import time

from contract.errors import PipelineError
from pipeline.store_sql import connect, shown

# Version 1 is the layout before versioning (no user_version); 2 adds the events index; 3 the artifacts'
# properties (the raw data's description) and each run's inputs (what a step launched alone resolves).
# Bump it with a migration.
SCHEMA_VERSION = 3
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, started REAL, finished REAL, status TEXT, dataset TEXT,
  pid INTEGER, host TEXT, summary_path TEXT, error TEXT);
CREATE TABLE IF NOT EXISTS executions (
  id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, component TEXT, fingerprint TEXT,
  code_version TEXT, params TEXT, status TEXT, started REAL, finished REAL, seconds REAL,
  facts TEXT, cached_from INTEGER, error TEXT);
CREATE INDEX IF NOT EXISTS executions_fp ON executions (fingerprint, status);
CREATE TABLE IF NOT EXISTS artifacts (
  id INTEGER PRIMARY KEY AUTOINCREMENT, uri TEXT, name TEXT, digest TEXT, producer INTEGER,
  created REAL, manifest TEXT, UNIQUE (uri, digest));
CREATE TABLE IF NOT EXISTS events (
  execution_id INTEGER, artifact_id INTEGER, kind TEXT, name TEXT);
"""
MIGRATIONS = {  # from version -> the SQL that brings a store to the next one
    1: "CREATE INDEX IF NOT EXISTS events_execution ON events (execution_id, kind);",
    2: "ALTER TABLE artifacts ADD COLUMN properties TEXT; ALTER TABLE runs ADD COLUMN inputs TEXT;",
}


class StoreVersionError(PipelineError, RuntimeError):
    """The store was written by a newer version of this code."""

DONE = ("complete", "cached")


class MetadataStore:
    def __init__(self, path: str):
        self.path = path
        self.db = connect(path)
        self.kind = self.db.kind
        self._open_schema()

    def _open_schema(self) -> None:
        try:
            with self.db.locked("schema"):   # two processes opening a new (or older) store at once: one sets it up
                self._set_up_schema()
        except StoreVersionError:
            self.db.close()
            raise

    def _set_up_schema(self) -> None:
        version, has_tables = self.db.version()
        if version > SCHEMA_VERSION:
            raise StoreVersionError(f"{shown(self.path)}: metadata store schema version {version} is newer than "
                                    f"this code's {SCHEMA_VERSION}; use the newer code, or another pipeline.metadata")
        if not has_tables:     # a new store: the current layout at once
            self.db.script(SCHEMA + "".join(MIGRATIONS.values()) + self.db.set_version(SCHEMA_VERSION))
            return
        version = version or 1
        while version < SCHEMA_VERSION:
            self.db.script(MIGRATIONS[version] + self.db.set_version(version + 1))
            version += 1

    @contextlib.contextmanager
    def run_lock(self, run_id: str):
        """Hold the run's lock: two steps of one run that finish at once (tasks of an orchestrator, even on two
        machines sharing a PostgreSQL store) update its summary file one after the other."""
        with self.db.locked(run_id):
            yield

    def close(self):
        self.db.close()

    # --- runs
    def start_run(self, run_id: str, dataset: str, summary_path: str, driver: bool = True) -> None:
        """driver: this process runs the run's steps, so the run was killed if it dies; a run begun for an
        orchestrator's tasks (driver=False) has no such process and stays running until `finish`."""
        self.db.execute("INSERT INTO runs (run_id, started, finished, status, dataset, pid, host, summary_path, "
                        "error) VALUES (?,?,?,?,?,?,?,?,?)",
                        (run_id, time.time(), None, "running", dataset, os.getpid() if driver else None,
                         socket.gethostname(), summary_path, None))

    def set_run_inputs(self, run_id: str, inputs: dict) -> None:
        """The artifacts a run starts from (name -> artifact id): raw_data, or predict's model and data."""
        self.db.execute("UPDATE runs SET inputs=? WHERE run_id=?", (json.dumps(inputs), run_id))

    def run_inputs(self, run_id: str) -> dict:
        row = self.db.execute("SELECT inputs FROM runs WHERE run_id=?", (run_id,)).fetchone()
        ids = json.loads(row["inputs"]) if row and row["inputs"] else {}
        return {name: self.artifact(str(i)) for name, i in ids.items()}

    def finish_run(self, run_id: str, status: str, error: str | None = None) -> None:
        self.db.execute("UPDATE runs SET finished=?, status=?, error=? WHERE run_id=?",
                        (time.time(), status, error, run_id))

    def runs(self) -> list[dict]:
        rows = [dict(r) for r in self.db.execute("SELECT * FROM runs ORDER BY started")]
        for r in rows:  # a 'running' run whose process is gone was killed
            if r["status"] == "running" and r["pid"] and r["host"] == socket.gethostname() and not _alive(r["pid"]):
                r["status"] = "killed"
        return rows

    def run(self, run_id: str) -> dict | None:
        return next((r for r in self.runs() if r["run_id"] == run_id), None)

    # --- artifacts
    def put_artifact(self, uri: str, name: str, digest: str, producer: int | None, files: dict,
                     properties: dict | None = None) -> int:
        """The artifact's id: these files at this place are one artifact, whoever records them first (two
        tasks that finish at once do not both insert it)."""
        self.db.execute("INSERT INTO artifacts (uri, name, digest, producer, created, manifest, properties) "
                        "VALUES (?,?,?,?,?,?,?) ON CONFLICT (uri, digest) DO NOTHING",
                        (uri, name, digest, producer, time.time(), json.dumps(files),
                         json.dumps(properties) if properties is not None else None))
        return self.db.execute("SELECT id FROM artifacts WHERE uri=? AND digest=?", (uri, digest)).fetchone()["id"]

    def artifact(self, key: str) -> dict | None:
        """Look up by id, or by URI (the newest one)."""
        q = ("SELECT * FROM artifacts WHERE id=?" if key.isdigit()
             else "SELECT * FROM artifacts WHERE uri=? OR uri=? ORDER BY id DESC")
        args = (int(key),) if key.isdigit() else (key, key.rstrip("/"))
        row = self.db.execute(q, args).fetchone()
        return _decode(row)

    def artifact_uris(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT DISTINCT uri FROM artifacts")]

    # --- executions
    def start_execution(self, run_id, component, fingerprint, code_version, params, inputs: dict) -> int:
        exe = self.db.insert(
            "INSERT INTO executions (run_id, component, fingerprint, code_version, params, status, started) "
            "VALUES (?,?,?,?,?,?,?)", (run_id, component, fingerprint, code_version, json.dumps(params, default=str),
                                       "running", time.time()))
        for name, art in inputs.items():
            self._event(exe, art, "input", name)
        return exe

    def finish_execution(self, exe: int, status: str, facts: dict | None = None, outputs: dict | None = None,
                         cached_from: int | None = None, error: str | None = None) -> None:
        for name, art in (outputs or {}).items():
            self._event(exe, art, "output", name)
        started = self.db.execute("SELECT started FROM executions WHERE id=?", (exe,)).fetchone()["started"]
        now = time.time()
        self.db.execute("UPDATE executions SET status=?, finished=?, seconds=?, facts=?, cached_from=?, error=? "
                        "WHERE id=?", (status, now, round(now - started, 3), json.dumps(facts or {}, default=str),
                                       cached_from, error, exe))

    def abandon_executions(self, run_id: str, component: str, why: str) -> None:
        """Executions of a step of this run still recorded as running, whose process is gone: killed."""
        self.db.execute("UPDATE executions SET status='killed', error=? WHERE run_id=? AND component=? "
                        "AND status='running'", (why, run_id, component))

    def forget_artifact(self, artifact_id: int) -> None:
        """Drop an artifact no execution completed and none read: what a killed attempt recorded midway."""
        self.db.execute("DELETE FROM artifacts WHERE id=? AND NOT EXISTS (SELECT 1 FROM events WHERE artifact_id=?)",
                        (artifact_id, artifact_id))

    def _event(self, exe: int, artifact: int, kind: str, name: str) -> None:
        self.db.execute("INSERT INTO events (execution_id, artifact_id, kind, name) VALUES (?,?,?,?)",
                        (exe, artifact, kind, name))

    def finished_executions(self, component: str, dataset: str, exclude_run: str) -> list[dict]:
        """Executions of `component` that completed (or were cached) in earlier succeeded runs on `dataset`,
        newest first: the history the resolvers (pipeline/resolvers.py) choose from."""
        rows = self.db.execute(
            "SELECT e.* FROM executions e JOIN runs r ON r.run_id = e.run_id "
            "WHERE e.component = ? AND e.status IN ('complete', 'cached') AND r.dataset = ? "
            "AND r.status = 'succeeded' AND r.run_id != ? ORDER BY e.finished DESC",
            (component, dataset, exclude_run)).fetchall()
        return [_decode(r) for r in rows]

    def cached(self, fingerprint: str) -> dict | None:
        """The newest complete execution with this fingerprint (never a failed or partial one)."""
        row = self.db.execute("SELECT * FROM executions WHERE fingerprint=? AND status='complete' "
                              "ORDER BY finished DESC", (fingerprint,)).fetchone()
        return _decode(row)

    def execution(self, exe: int) -> dict | None:
        return _decode(self.db.execute("SELECT * FROM executions WHERE id=?", (exe,)).fetchone())

    def executions(self, run_id: str) -> list[dict]:
        return [_decode(r) for r in self.db.execute("SELECT * FROM executions WHERE run_id=? ORDER BY id", (run_id,))]

    def events(self, exe: int, kind: str) -> dict:
        """{name: artifact row} of an execution's inputs or outputs."""
        rows = self.db.execute("SELECT name, artifact_id FROM events WHERE execution_id=? AND kind=?", (exe, kind))
        return {r["name"]: self.artifact(str(r["artifact_id"])) for r in rows}

    def consumers(self, artifact_id: int) -> list[dict]:
        rows = self.db.execute("SELECT e.* FROM executions e JOIN events v ON v.execution_id=e.id "
                               "WHERE v.artifact_id=? AND v.kind='input' ORDER BY e.id", (artifact_id,))
        return [_decode(r) for r in rows]


def _decode(row) -> dict | None:
    if row is None:
        return None
    d = dict(row)
    for key in ("params", "facts", "manifest", "properties"):
        if d.get(key):
            d[key] = json.loads(d[key])
    return d


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
