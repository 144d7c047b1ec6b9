"""Beam's EXTERNAL worker pool, kept warm: the pool answers on loopback and hands each SDK worker that a
Flink TaskManager asks for to one of N worker processes, each of which imports TensorFlow, TFT, TFMA and
the steps' modules once when the pool starts (ingest's first, the rest while ingest's workers run) and runs
its workers as threads (Beam's `use_process=False`).

Why: Beam's `python -m apache_beam.runners.worker.worker_pool_main` forks a fresh Python for every worker
(`use_process=True`), and Flink asks for one per stage: 16 fresh Pythons in the 70k run, each importing
TensorFlow again (docs/flink.md "Warm workers": 314 s -> 221-228 s of that run on Flink). Threads of one process share its GIL, hence N processes: a step with
--sdk_worker_parallelism=2 gets two workers in two processes, each with a core. It also binds 127.0.0.1
(Beam's pool binds [::], every interface).

    python -m ops.worker_pool --port 50000 --processes 2     # ops/workers.py starts it per run
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from apache_beam.portability.api import beam_fn_api_pb2, beam_fn_api_pb2_grpc

log = logging.getLogger("worker-pool")
# What the steps' workers import (their closures pull in the rest): once per worker process, not per stage.
# A run's first job is ingest, whose workers need none of TensorFlow: a warm process answers once it has
# imported LIGHT, and imports HEAVY while ingest's workers run (before: ingest's job waited 3.8-4.1 s for
# the whole import; docs/flink.md "Where a step's time goes"). A later step's worker that unpickles TFT
# while HEAVY is still importing waits on Python's per-module import locks.
LIGHT = ("apache_beam", "apache_beam.runners.worker.sdk_worker", "contract.records", "contract.record_batch",
         "components.ingest.transforms")
HEAVY = ("tensorflow", "tensorflow_transform", "tensorflow_transform.beam", "tensorflow_model_analysis",
         "components.statistics.transforms", "components.transform.preprocessing", "components.evaluator.metrics")


def _server(port: int, servicer):
    import grpc
    from apache_beam.utils import thread_pool_executor
    server = grpc.server(thread_pool_executor.shared_unbounded_instance(),
                         options=[("grpc.http2.max_pings_without_data", 0), ("grpc.http2.max_ping_strikes", 0)])
    beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(servicer, server)
    # The previous run's pool may still be going away on this port (its group killed, the kernel not done):
    # CI saw three runs in a row refused for that within 15 s. Wait for the port up to 30 s, then fail.
    tries = 60 if port else 1   # port 0: any free port, nothing to wait for
    for attempt in range(tries):
        try:
            bound = server.add_insecure_port(f"127.0.0.1:{port}")   # loopback only
            break
        except RuntimeError:
            if attempt == tries - 1:
                raise
            log.info("port %d is still taken; waiting for it", port)
            time.sleep(0.5)
    server.start()
    return server, bound


def tune_data_plane(message_bytes: int = 1 << 20) -> None:
    """Let a bundle's output wait in this worker, not in the TaskManager's heap, until the runner reads it.

    Beam 2.70's Java runner reads a bundle's output only after the bundle's response
    (SdkHarnessClient.ActiveBundle.close: the response, then BeamFnDataInboundObserver.awaitCompletion; read
    with javap), and queues at most 100 data messages per bundle before that (its CancellableQueue(100)).
    The Python SDK answers only once its output is queued for sending, in queues of at most 100 MB. So a
    bundle whose output outgrows 100 messages plus 200 MB never ends: transform on 700k images with one
    slot (its train split, 1.3 GB of record batches, leaves one bundle for the next stage) hung at 0% CPU
    with 1.29 GB of 10 MB messages in the TaskManager's heap; two such bundles at once ran a 2.1 GB heap out
    (docs/flink.md "Faults"). Here: messages of about 1 MB (100 MB of heap a bundle) and send queues bounded
    by count only (10,000 messages, about 10 GB), so the rest waits in this process. Beam has no option
    for either: the size is an argument's default its data channel never passes, the bytes a module
    constant its channel reads when made."""
    from apache_beam.runners.worker import data_plane
    init = data_plane.SizeBasedBufferingClosableOutputStream.__init__
    names = init.__code__.co_varnames[1:init.__code__.co_argcount][-len(init.__defaults__):]
    defaults = dict(zip(names, init.__defaults__))
    defaults["size_flush_threshold"] = message_bytes   # a KeyError if Beam renames it (tests/test_worker_pool_unit.py)
    init.__defaults__ = tuple(defaults[n] for n in names)
    if not hasattr(data_plane, "_DEFAULT_SEND_QUEUE_MAX_BYTES"):   # setting a new name would change nothing
        raise RuntimeError("apache_beam's data_plane has no _DEFAULT_SEND_QUEUE_MAX_BYTES: see tune_data_plane")
    data_plane._DEFAULT_SEND_QUEUE_MAX_BYTES = 0   # ByteLimitedQueue: 0 bytes means no byte limit


def serve_warm(port: int, pool: int) -> None:
    """One warm worker process: import what the workers need, then run each as a thread of this process."""
    from pipeline.isolated import die_with_parent
    die_with_parent(pool)   # a pool killed with SIGKILL takes its workers with it
    for name in LIGHT:
        importlib.import_module(name)
    tune_data_plane()
    from apache_beam.runners.worker.worker_pool_main import BeamFnExternalWorkerPoolServicer
    servicer = BeamFnExternalWorkerPoolServicer(use_process=False, state_cache_size=0, data_buffer_time_limit_ms=-1)
    server, bound = _server(port, servicer)
    print(f"READY {bound}", flush=True)
    os.dup2(2, 1)   # the pool reads one line from our stdout: what follows must not fill that pipe
    started = time.monotonic()
    for name in HEAVY:   # while the first workers (ingest's) run in the server's threads
        importlib.import_module(name)
    log.info("warm process %d: TensorFlow, TFT and TFMA imported %.1f s after it answered", os.getpid(),
             time.monotonic() - started)
    server.wait_for_termination()


class Dispatcher(beam_fn_api_pb2_grpc.BeamFnExternalWorkerPoolServicer):
    """The pool's own service: each StartWorker goes to the warm process with the fewest workers alive. It
    answers at once; a StartWorker that arrives while the processes still import waits for them, so their
    imports overlap the driver's work up to its first Beam job."""

    def __init__(self, children: list, timeout_s: float = 300.0):
        self.children, self.timeout = children, timeout_s
        self.ready, self.error = threading.Event(), None
        self.stubs: list = []
        self.load = [0] * len(children)
        self.owner: dict[str, int] = {}
        self.lock = threading.Lock()
        self.started = 0
        threading.Thread(target=self._connect, name="warm-processes", daemon=True).start()

    def _connect(self) -> None:
        import grpc
        ports = []
        for child in self.children:   # each prints READY <port> once its imports are done
            line = child.stdout.readline()
            if not line.startswith("READY "):
                self.error = f"warm worker process {child.pid} exited before it was ready (code {child.wait()})"
                break
            ports.append(int(line.split()[1]))
        self.stubs = [beam_fn_api_pb2_grpc.BeamFnExternalWorkerPoolStub(grpc.insecure_channel(f"127.0.0.1:{p}"))
                      for p in ports]
        log.info("warm worker processes ready: pids %s on ports %s", [c.pid for c in self.children], ports)
        self.ready.set()

    def StartWorker(self, request, context):
        if not self.ready.wait(self.timeout) or self.error:
            return beam_fn_api_pb2.StartWorkerResponse(error=self.error or "the warm worker processes did not "
                                                       f"get ready within {self.timeout:.0f} s")
        with self.lock:
            chosen = min(range(len(self.stubs)), key=lambda i: self.load[i])
            self.load[chosen] += 1
            self.owner[request.worker_id] = chosen
            self.started += 1
        log.info("worker %s -> warm process %d (%d started so far)", request.worker_id, chosen, self.started)
        return self.stubs[chosen].StartWorker(request)

    def StopWorker(self, request, context):
        with self.lock:
            chosen = self.owner.pop(request.worker_id, None)
            if chosen is not None:
                self.load[chosen] -= 1
        return beam_fn_api_pb2.StopWorkerResponse() if chosen is None else self.stubs[chosen].StopWorker(request)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.worker_pool", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="the pool's loopback port (--environment_config)")
    parser.add_argument("--processes", type=int, default=2, help="warm worker processes")
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)  # internal: be one warm process
    parser.add_argument("--die-with-parent", type=int, metavar="PID",
                        help="exit when process PID, which started it, dies (the runner's pool of one run)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.warm:
        serve_warm(args.port, args.die_with_parent)
        return 0
    if args.die_with_parent:   # a pipeline killed mid-run leaves no pool holding its port, nor its workers busy
        from pipeline.isolated import die_with_parent
        die_with_parent(args.die_with_parent)   # the pid it was given: getppid() is 1 if it died before this line
    children = [subprocess.Popen([sys.executable, "-m", "ops.worker_pool", "--port", "0", "--warm",
                                  f"--die-with-parent={os.getpid()}"],
                                 stdout=subprocess.PIPE, text=True) for _ in range(args.processes)]
    try:
        server, bound = _server(args.port, Dispatcher(children))
        log.info("worker pool on 127.0.0.1:%d; %d warm processes importing (pids %s)", bound, len(children),
                 [c.pid for c in children])
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while all(c.poll() is None for c in children):
            time.sleep(1.0)
        raise SystemExit(f"a warm worker process exited (codes {[c.poll() for c in children]})")
    finally:
        for child in children:
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
