"""A real PostgreSQL server for the tests, in a temporary folder, on loopback only, stopped afterwards:
Debian's `postgresql` package (initdb, pg_ctl). initdb refuses to run as root (as CI is): then the server
runs as the `postgres` user the package creates, in a folder given to it.

    python tests/pg_server.py     # starts one, prints its URL, stops it on Enter
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid

BIN_GLOB = "/usr/lib/postgresql/*/bin"


def binaries() -> str | None:
    """Debian's folder of the server's programs, or None (postgresql not installed)."""
    found = sorted(glob.glob(BIN_GLOB))
    return found[-1] if found and os.path.exists(os.path.join(found[-1], "initdb")) else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self):
        self.bin = binaries()
        if not self.bin:
            raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
        self.home = tempfile.mkdtemp(prefix="pg-test-")
        self.port = _free_port()
        self.user = "postgres" if os.geteuid() == 0 else None   # initdb refuses root

    def _run(self, *args, check=True):
        cmd = [os.path.join(self.bin, args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> "Server":
        if self.user:
            shutil.chown(self.home, self.user)
        self._run("initdb", "-D", os.path.join(self.home, "data"), "-A", "trust", "-U", "postgres", "--no-sync")
        self.resume()
        return self

    def resume(self) -> None:
        """Start the server on its data (again, after pause)."""
        # loopback only, the socket in our folder, small: a test server
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.home} -c fsync=off -c max_connections=50"
        self._run("pg_ctl", "-D", os.path.join(self.home, "data"), "-l", os.path.join(self.home, "server.log"),
                  "-o", opts, "-w", "start")

    def pause(self) -> None:
        """Stop the server at once (its clients' connections drop), keeping its data."""
        self._run("pg_ctl", "-D", os.path.join(self.home, "data"), "-m", "immediate", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def database(self, name: str | None = None) -> str:
        """A new empty database on the server: its URL."""
        import psycopg
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"{self.url}/postgres", autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return f"{self.url}/{name}"

    def stop(self) -> None:
        data = os.path.join(self.home, "data")
        if os.path.exists(data):
            self._run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.home, ignore_errors=True)


if __name__ == "__main__":
    server = Server().start()
    try:
        input(f"{server.url} (Enter stops it) ")
    finally:
        server.stop()
