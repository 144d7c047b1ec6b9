"""A local GCS-compatible object store, to run and test a `gs://` pipeline root without a cloud account:
fake-gcs-server (built once from the Go module proxy at a pinned version, checked against its go.sum hash)
behind the front of ops/gcs_front.py, both on loopback, started and stopped by the PIDs in <home>/state.json.
Its objects live in the server's memory: its filesystem backend cannot hold the zero-byte "folder/" objects
that TensorFlow's makedirs writes (an empty folder made by TensorFlow then reads as missing).

    python -m pipeline gcs up | down | status     # make gcs-up / gcs-down / gcs-status
    python -m pipeline run --set pipeline.object_store=local ...   # the command sets the variables for itself
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import urllib.request

from contract.errors import PipelineError
from ops import procs
from ops.gcs_front import TLS_HOSTS

log = logging.getLogger(__name__)
MODULE, VERSION = "github.com/fsouza/fake-gcs-server", "v1.56.1"
MODULE_SUM = "h1:K03sAvbLvDz4hAynpCCUqnNRp+ik9JFSvHbkD/wTPOU="   # go.sum's hash of that version's source
HOME = os.path.join("build", "gcs")
PROJECT = "local-project"
SERVER_MARK, FRONT_MARK = "fake-gcs-server", "ops.gcs_front"


class StoreError(PipelineError, RuntimeError):
    """The local object store could not be built or started."""


@dataclasses.dataclass(frozen=True)
class Store:
    home: str
    server_port: int
    front_port: int
    server_pid: int
    front_pid: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.front_port}"

    def env(self) -> dict[str, str]:
        """What a process needs to use this store instead of Google's (test-only; a real bucket needs none)."""
        tls = os.path.join(self.home, "tls")
        return {"STORAGE_EMULATOR_HOST": self.endpoint,           # google-cloud-storage, Beam's GcsIO
                "https_proxy": self.endpoint, "HTTPS_PROXY": self.endpoint,   # TensorFlow's gs:// (curl)
                "no_proxy": "localhost,127.0.0.1", "NO_PROXY": "localhost,127.0.0.1",
                "CURL_CA_BUNDLE": os.path.join(tls, "ca.pem"),
                "GOOGLE_AUTH_TOKEN_FOR_TESTING": "local-token", "NO_GCE_CHECK": "true",
                "GOOGLE_APPLICATION_CREDENTIALS": os.path.join(self.home, "service-account.json"),
                "GOOGLE_CLOUD_PROJECT": PROJECT}


def _go() -> str:
    found = shutil.which("go") or ("/usr/local/go/bin/go" if os.path.exists("/usr/local/go/bin/go") else None)
    if not found:
        raise StoreError("Go is needed once to build fake-gcs-server (https://go.dev/dl/, or /usr/local/go)")
    return found


def fetch(home: str = HOME) -> str:
    """The server's binary under <home>/bin, built with `go install` when missing and checked by its hash."""
    home = os.path.abspath(home)
    binary = os.path.join(home, "bin", "fake-gcs-server")
    go = None
    if not os.path.exists(binary):
        go = _go()
        gopath = os.path.join(home, "go")
        env = dict(os.environ, GOPATH=gopath, GOBIN=os.path.dirname(binary), GOCACHE=os.path.join(gopath, "cache"),
                   GOFLAGS="-modcacherw", GOTOOLCHAIN="local", CGO_ENABLED="0")
        log.info("building %s@%s with Go (once; a few minutes)", MODULE, VERSION)
        done = subprocess.run([go, "install", f"{MODULE}@{VERSION}"], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise StoreError(f"go install {MODULE}@{VERSION} failed: {done.stderr.strip().splitlines()[-1:]}")
        shutil.rmtree(os.path.join(gopath, "cache"), ignore_errors=True)   # build cache: 0.5 GB, not needed again
    info = subprocess.run([go or _go(), "version", "-m", binary], capture_output=True, text=True).stdout
    if f"mod\t{MODULE}\t{VERSION}\t{MODULE_SUM}" not in info:
        raise StoreError(f"{binary} is not {MODULE}@{VERSION} ({MODULE_SUM}); remove it to rebuild")
    return binary


def _state_path(home: str) -> str:
    return os.path.join(os.path.abspath(home), "state.json")


def status(home: str = HOME) -> Store | None:
    """The running store of this home, if both its processes are alive and still ours."""
    path = _state_path(home)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        store = Store(**json.load(f))
    if procs.alive(store.server_pid, SERVER_MARK) and procs.alive(store.front_pid, FRONT_MARK):
        return store
    return None


def up(home: str = HOME, server_port: int = 0, front_port: int = 0, buckets: tuple[str, ...] = (),
       timeout_s: float = 30.0, verbose: bool = False) -> Store:
    """Start the server and its front (free loopback ports unless given); create the buckets. home holds the
    state, credentials and logs; the binary is the one build of build/gcs/bin."""
    if status(home):
        store = status(home)
        for b in buckets:
            create_bucket(store, b)
        return store
    down(home)   # a half-dead pair: stop what is left
    home = os.path.abspath(home)
    binary = fetch()
    from ops.tls import make_service_account, make_tls
    tls = make_tls(os.path.join(home, "tls"), TLS_HOSTS)
    server_port, front_port = server_port or procs.free_port(), front_port or procs.free_port()
    make_service_account(os.path.join(home, "service-account.json"), f"http://127.0.0.1:{front_port}/token", PROJECT)
    logs = os.path.join(home, "log")
    os.makedirs(logs, exist_ok=True)
    server = procs.start([binary, "-scheme", "http", "-host", "127.0.0.1", "-port", str(server_port),
                          "-backend", "memory",
                          "-log-level", "warn"], os.path.join(logs, "server.log"), cwd=home)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    front = procs.start([sys.executable, "-m", FRONT_MARK, "--port", str(front_port),
                         "--upstream", f"127.0.0.1:{server_port}", "--cert", tls["cert"], "--key", tls["key"]]
                        + (["--verbose"] if verbose else []), os.path.join(logs, "front.log"), cwd=repo)
    store = Store(home, server_port, front_port, server.pid, front.pid)
    with open(_state_path(home) + ".tmp", "w") as f:
        json.dump(dataclasses.asdict(store), f, indent=1)
    os.replace(_state_path(home) + ".tmp", _state_path(home))
    deadline = time.monotonic() + timeout_s
    while not answers(store):
        for proc, name in ((server, "server.log"), (front, "front.log")):
            if proc.poll() is not None:
                down(home)
                raise StoreError(f"the local object store exited at start; see {os.path.join(logs, name)}")
        if time.monotonic() > deadline:
            down(home)
            raise StoreError(f"the local object store did not answer within {timeout_s:.0f} s; see {logs}")
        time.sleep(0.2)
    for b in buckets:
        create_bucket(store, b)
    log.info("object store on %s (server pid %d, front pid %d)", store.endpoint, server.pid, front.pid)
    return store


def answers(store: Store) -> bool:
    try:
        with urllib.request.urlopen(f"{store.endpoint}/storage/v1/b?project={PROJECT}", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def create_bucket(store: Store, name: str) -> None:
    req = urllib.request.Request(f"{store.endpoint}/storage/v1/b?project={PROJECT}", method="POST",
                                 data=json.dumps({"name": name}).encode(), headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=10).close()
    except urllib.error.HTTPError as e:
        if e.code != 409:   # 409: it exists already
            raise StoreError(f"could not create bucket {name}: HTTP {e.code} {e.read()[:200]!r}") from None


def down(home: str = HOME) -> list[int]:
    """Stop the recorded processes that are still ours; return their PIDs."""
    path = _state_path(home)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        state = json.load(f)
    stopped = procs.stop({state["server_pid"]: SERVER_MARK, state["front_pid"]: FRONT_MARK})
    os.remove(path)
    return stopped


def shell_env(store: Store) -> str:
    return "\n".join(f"export {k}={v}" for k, v in store.env().items())
