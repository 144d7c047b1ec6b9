"""The two databases the metadata store (pipeline/metadata.py) runs on: a SQLite file (the default, one
machine) and PostgreSQL (`pipeline.metadata: postgresql://...`, for steps that run as tasks on separate
machines). Both take the store's SQL with `?` placeholders and give rows that read by column name; a
PostgreSQL server that does not answer is one StoreUnavailable line naming it (the password hidden).

    python -c "from pipeline.store_sql import connect; print(connect('/tmp/m.sqlite').kind)"
"""
from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
import zlib

from contract.errors import PipelineError


class StoreUnavailable(PipelineError, RuntimeError):
    """The metadata store's server cannot be reached or went away: a rerun resumes once it is back."""


def is_server(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


def shown(location: str) -> str:
    """The location without its password, for messages and the run summary."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", location)


class _Sqlite:
    kind = "sqlite"

    def __init__(self, path: str):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        # autocommit: every write lands; a background step's thread writes too (the runner serializes them)
        self.con = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.con.row_factory = sqlite3.Row
        self.con.execute("PRAGMA journal_mode=WAL")

    def execute(self, sql: str, args: tuple = ()):
        return self.con.execute(sql, args)

    def insert(self, sql: str, args: tuple) -> int:
        return self.con.execute(sql, args).lastrowid

    def script(self, sql: str) -> None:
        # statement by statement: executescript would commit the transaction `locked` holds
        for statement in filter(str.strip, sql.split(";")):
            self.con.execute(statement)

    def version(self) -> tuple[int, bool]:
        """(schema version, whether the store has tables at all)."""
        has = self.con.execute("SELECT count(*) FROM sqlite_master WHERE name='runs'").fetchone()[0]
        return self.con.execute("PRAGMA user_version").fetchone()[0], bool(has)

    def set_version(self, version: int) -> str:
        return f"PRAGMA user_version={version};"

    @contextlib.contextmanager
    def locked(self, key: str):
        """One writer at a time across processes (BEGIN IMMEDIATE takes SQLite's write lock; key is not needed:
        the whole file is one lock), for the schema's set-up or a read-modify-write of a shared file."""
        self.con.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def close(self) -> None:
        self.con.close()


class _Postgres:
    """psycopg 3 on one autocommit connection, shared by the run's threads under a lock."""
    kind = "postgresql"
    TYPES = (("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY"), ("REAL", "DOUBLE PRECISION"),
             ("INTEGER", "BIGINT"))

    def __init__(self, url: str):
        import psycopg
        from psycopg.rows import dict_row
        self.url, self._errors = url, (psycopg.OperationalError, psycopg.InterfaceError)
        self._lock = threading.RLock()
        try:
            self.con = psycopg.connect(url, autocommit=True, row_factory=dict_row, connect_timeout=10)
        except self._errors as e:
            raise self._unavailable(e) from None

    def _unavailable(self, e) -> StoreUnavailable:
        why = (str(e).strip().splitlines() or ["no answer"])[-1]
        return StoreUnavailable(f"pipeline.metadata {shown(self.url)}: the PostgreSQL server does not answer "
                                f"({why}); start it (or fix the URL) and rerun: the run resumes where it stopped")

    def execute(self, sql: str, args: tuple = ()):
        with self._lock:
            try:
                return self.con.execute(sql.replace("?", "%s"), args)
            except self._errors as e:
                raise self._unavailable(e) from None

    def insert(self, sql: str, args: tuple) -> int:
        return self.execute(sql + " RETURNING id", args).fetchone()["id"]

    def script(self, sql: str) -> None:
        for a, b in self.TYPES:
            sql = sql.replace(a, b)
        for statement in filter(str.strip, sql.split(";")):
            self.execute(statement)

    def version(self) -> tuple[int, bool]:
        self.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT)")
        row = self.execute("SELECT max(version) AS v FROM schema_version").fetchone()
        has = self.execute("SELECT to_regclass('runs') IS NOT NULL AS has").fetchone()["has"]
        return row["v"] or 0, bool(has)

    def set_version(self, version: int) -> str:
        return f"DELETE FROM schema_version; INSERT INTO schema_version VALUES ({version});"

    @contextlib.contextmanager
    def locked(self, key: str):
        """An advisory lock on key (a run id) for the length of a transaction: tasks on other machines
        that update the same run's file wait for it."""
        with self._lock:
            try:
                with self.con.transaction():
                    self.con.execute("SELECT pg_advisory_xact_lock(%s)", (zlib.crc32(key.encode()),))
                    yield
            except self._errors as e:
                raise self._unavailable(e) from None

    def close(self) -> None:
        self.con.close()


def connect(location: str):
    """The database at `location`: a postgresql:// URL, or a local SQLite file."""
    if is_server(location):
        return _Postgres(location)
    if "://" in location:
        raise ValueError(f"pipeline.metadata {location}: a local SQLite path or a postgresql:// URL")
    return _Sqlite(location)
