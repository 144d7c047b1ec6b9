"""pipeline.shutdown.end_process: the process ends without Python's teardown, and loses nothing on the way."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = textwrap.dedent("""
    import atexit, logging, sys, tempfile, threading, time
    from pipeline.shutdown import end_process
    out = sys.argv[1]
    log = logging.getLogger("child")
    handler = logging.FileHandler(out + "/child.log", delay=True)
    log.addHandler(handler)
    log.warning("logged before the exit")
    atexit.register(lambda: open(out + "/atexit", "w").write("ran"))
    folder = tempfile.TemporaryDirectory(dir=out)          # removed by its weakref.finalize at exit
    open(out + "/folder", "w").write(folder.name)
    def late():
        time.sleep(0.3)
        open(out + "/thread", "w").write("finished")
    threading.Thread(target=late).start()                  # not a daemon: Python would wait for it
    sys.stdout.write("unflushed output")                   # no newline, no flush
    end_process({code})
""")


def _child(tmp_path, code):
    return subprocess.run([sys.executable, "-c", CHILD.format(code=code), str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("code, status", [("0", 0), ("3", 3), ("None", 0), ("'a message'", 1)])
def test_the_exit_status_is_what_sys_exit_would_give(tmp_path, code, status):
    proc = _child(tmp_path, code)
    assert proc.returncode == status, proc.stderr
    if code == "'a message'":
        assert "a message" in proc.stderr


def test_nothing_that_exit_would_do_is_skipped(tmp_path):
    proc = _child(tmp_path, "0")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "unflushed output"
    assert (tmp_path / "thread").read_text() == "finished"          # the thread was waited for
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "child.log").read_text() == "logged before the exit\n"
    assert not os.path.exists((tmp_path / "folder").read_text())    # the temporary folder was cleaned up
