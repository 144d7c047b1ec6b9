"""The console people read: one line per step as it starts and ends, progress where work is long, warnings
and errors; everything else (Beam, TensorFlow, absl, Keras, and C++ output) goes to the run's log file.

    python -m pipeline run        # quiet; the log file is named at the end
    python -m pipeline run -v     # everything on the console, as well as in the log file

Steps report progress with `expect(step, total, unit)` and `tick(step)`; both are no-ops where no console is
open (Beam workers in other processes, tests), so executors call them unconditionally.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time

OURS = ("pipeline", "components", "data", "contract", "modeling", "ops", "cli")   # loggers whose warnings the console shows
_lock = threading.Lock()
_current: "Console | Relay | None" = None   # a Relay in a step's child process


class Console:
    def __init__(self, stream, tty: bool):
        self.out, self.tty = stream, tty
        self._progress: dict = {}        # step -> [done, total, unit, last shown share, detail]
        self._open_bar = False

    def write(self, text: str) -> None:
        with _lock:
            if self._open_bar:
                self.out.write("\n")
                self._open_bar = False
            self.out.write(text + "\n")
            self.out.flush()

    def step_start(self, name: str) -> None:
        self.write(f"{name:<16} started")

    def step_end(self, name: str, status: str, seconds: float, detail: str = "") -> None:
        self.write(f"{name:<16} {status:<9} {seconds:7.1f} s  {detail}".rstrip())

    def expect(self, step: str, total: int, unit: str) -> None:
        with _lock:
            self._progress[step] = [0, max(total, 1), unit, -1, ""]

    def tick(self, step: str, n: int = 1, detail: str = "") -> None:
        with _lock:
            state = self._progress.get(step)
            if state is None:
                return
            state[0] += n
            state[4] = detail or state[4]
            done, total, unit, shown, detail = state
            share = min(done / total, 1.0)
            step_size = 0.02 if self.tty else 0.25        # plain lines: at each quarter only
            if int(share / step_size) == shown and done < total:
                return
            state[3] = int(share / step_size)
            if self.tty:
                bar = "#" * int(share * 30)
                self.out.write(f"\r{step:<16} [{bar:<30}] {done}/{total} {unit} {detail}\033[K")
                self._open_bar = done < total
                if done >= total:
                    self.out.write("\n")
            else:
                self.out.write(f"{step:<16} {done}/{total} {unit} {detail}".rstrip() + "\n")
            self.out.flush()


def current() -> "Console | Relay | None":
    return _current


def expect(step: str, total: int, unit: str) -> None:
    if _current is not None:
        _current.expect(step, total, unit)


def tick(step: str, n: int = 1, detail: str = "") -> None:
    if _current is not None:
        _current.tick(step, n, detail)


class Relay:
    """The console of a step's child process (pipeline/isolated.py): expect and tick go down a pipe, one
    line each, and the pipeline process's console shows them (replay)."""

    def __init__(self, fd: int):
        self._out = os.fdopen(fd, "w", buffering=1)

    def expect(self, step: str, total: int, unit: str) -> None:
        self._send("expect", step, total, unit)

    def tick(self, step: str, n: int = 1, detail: str = "") -> None:
        self._send("tick", step, n, detail)

    def _send(self, *fields) -> None:
        with _lock:
            self._out.write("\t".join(str(f).replace("\t", " ").replace("\n", " ") for f in fields) + "\n")


def relay_to(fd: int) -> None:
    """In a step's child process: progress goes to the pipeline process through fd."""
    global _current
    _current = Relay(fd)


def replay(line: str) -> None:
    """In the pipeline process: show one line a Relay sent."""
    kind, step, number, text = (line.rstrip("\n").split("\t") + ["", "", "", ""])[:4]
    if kind == "expect":
        expect(step, int(number), text)
    elif kind == "tick":
        tick(step, int(number), text)


class _ConsoleFilter(logging.Filter):
    """Our own warnings and errors, and any library's errors, except the Dataflow runner's: a failed job's
    message and console URL, which the run's one error line repeats (the log keeps them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("apache_beam.runners.dataflow"):
            return False
        ours = record.name.split(".")[0] in OURS
        return record.levelno >= (logging.WARNING if ours else logging.ERROR)


@contextlib.contextmanager
def session(log_path: str, verbose: bool = False):
    """Send fds 1 and 2 (Python, C++ and child processes alike) to log_path, and give the console the
    original stdout. With verbose, nothing is redirected and Python's logging also goes to the file."""
    global _current
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    log_file = open(log_path, "a", buffering=1)
    root = logging.getLogger()
    file_handler = logging.StreamHandler(log_file)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    old_handlers, old_level = root.handlers[:], root.level
    if verbose:
        root.addHandler(file_handler)
        _current = Console(sys.stdout, sys.stdout.isatty())
        try:
            yield _current
        finally:
            _current = None
            root.removeHandler(file_handler)
            log_file.close()
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    console_stream = os.fdopen(os.dup(saved_out), "w", buffering=1)
    tty = os.isatty(saved_out)
    os.dup2(log_file.fileno(), 1)
    os.dup2(log_file.fileno(), 2)
    console_handler = logging.StreamHandler(console_stream)
    console_handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    console_handler.addFilter(_ConsoleFilter())
    root.handlers = [file_handler, console_handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    _current = Console(console_stream, tty)
    start = time.time()
    try:
        yield _current
    finally:
        _current = None
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        os.close(saved_out)
        os.close(saved_err)
        root.handlers, root.level = old_handlers, old_level
        logging.captureWarnings(False)
        console_stream.close()
        log_file.write(f"--- console session ended after {time.time() - start:.1f} s\n")
        log_file.close()
