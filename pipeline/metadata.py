"""An embedded metadata store (SQLite), in the spirit of ML Metadata: runs, executions, artifacts and
the input/output events between them. It decides caching and answers lineage questions.

    python -m pipeline runs | python -m pipeline show RUN | python -m pipeline lineage ARTIFACT
"""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import time

from contract.errors import PipelineError

# Version 1 is the layout before versioning (no user_version); 2 adds the events index. Bump it with a migration.
SCHEMA_VERSION = 2
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
}


class StoreVersionError(PipelineError, RuntimeError):
    """The store was written by a newer version of this code."""

DONE = ("complete", "cached")


class MetadataStore:
    def __init__(self, path: str):
        if "://" in path:
            raise ValueError(f"pipeline.metadata {path}: the SQLite store must be a local path")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        # autocommit: every write lands; a background step's thread writes too (the runner serializes them)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self._open_schema()

    def _open_schema(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        has_tables = self.db.execute("SELECT count(*) FROM sqlite_master WHERE name='runs'").fetchone()[0]
        if version > SCHEMA_VERSION:
            self.db.close()
            raise StoreVersionError(f"{self.path}: metadata store schema version {version} is newer than this "
                                    f"code's {SCHEMA_VERSION}; use the newer code, or another pipeline.metadata")
        if not has_tables:     # a new store: the current layout at once
            self.db.executescript(SCHEMA + "".join(MIGRATIONS.values()) + f"PRAGMA user_version={SCHEMA_VERSION};")
            return
        version = version or 1
        while version < SCHEMA_VERSION:
            self.db.executescript(MIGRATIONS[version] + f"PRAGMA user_version={version + 1};")
            version += 1

    def close(self):
        self.db.close()

    # --- runs
    def start_run(self, run_id: str, dataset: str, summary_path: str) -> None:
        self.db.execute("INSERT INTO runs (run_id, started, finished, status, dataset, pid, host, summary_path, "
                        "error) VALUES (?,?,?,?,?,?,?,?,?)", (run_id, time.time(), None, "running", dataset,
                                                              os.getpid(), socket.gethostname(), summary_path, None))

    def finish_run(self, run_id: str, status: str, error: str | None = None) -> None:
        self.db.execute("UPDATE runs SET finished=?, status=?, error=? WHERE run_id=?",
                        (time.time(), status, error, run_id))

    def runs(self) -> list[dict]:
        rows = [dict(r) for r in self.db.execute("SELECT * FROM runs ORDER BY started")]
        for r in rows:  # a 'running' run whose process is gone was killed
            if r["status"] == "running" and r["host"] == socket.gethostname() and not _alive(r["pid"]):
                r["status"] = "killed"
        return rows

    def run(self, run_id: str) -> dict | None:
        return next((r for r in self.runs() if r["run_id"] == run_id), None)

    # --- artifacts
    def put_artifact(self, uri: str, name: str, digest: str, producer: int | None, files: dict) -> int:
        row = self.db.execute("SELECT id FROM artifacts WHERE uri=? AND digest=?", (uri, digest)).fetchone()
        if row:
            return row["id"]
        cur = self.db.execute("INSERT INTO artifacts (uri, name, digest, producer, created, manifest) "
                              "VALUES (?,?,?,?,?,?)", (uri, name, digest, producer, time.time(), json.dumps(files)))
        return cur.lastrowid

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
        cur = self.db.execute(
            "INSERT INTO executions (run_id, component, fingerprint, code_version, params, status, started) "
            "VALUES (?,?,?,?,?,?,?)", (run_id, component, fingerprint, code_version, json.dumps(params, default=str),
                                       "running", time.time()))
        for name, art in inputs.items():
            self._event(cur.lastrowid, art, "input", name)
        return cur.lastrowid

    def finish_execution(self, exe: int, status: str, facts: dict | None = None, outputs: dict | None = None,
                         cached_from: int | None = None, error: str | None = None) -> None:
        for name, art in (outputs or {}).items():
            self._event(exe, art, "output", name)
        started = self.db.execute("SELECT started FROM executions WHERE id=?", (exe,)).fetchone()["started"]
        now = time.time()
        self.db.execute("UPDATE executions SET status=?, finished=?, seconds=?, facts=?, cached_from=?, error=? "
                        "WHERE id=?", (status, now, round(now - started, 3), json.dumps(facts or {}, default=str),
                                       cached_from, error, exe))

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
    for key in ("params", "facts", "manifest"):
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
