"""Where a command's memory peaks: its processes' RSS every 20 ms, tagged with its last console line.

Prints each process's peak RSS (and how much of it was anonymous memory) with the console line that
was last printed when the peak came, then the pipeline process's RSS every half second of the step
that held its peak. Used to find the evaluator's peak (docs/performance.md "What changed,
and what it did", 2026-12-02).

    python bench/rss_timeline.py python -m pipeline run --no-cache --set data.dataset=fashion_mnist \\
        --set trainer.epochs=1 --set pipeline.root=build/rss_root
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time


def tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    out = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for child in f.read().split():
                    out += tree(int(child))
    except OSError:
        pass
    return out


def memory(pid: int) -> tuple[int, int] | None:
    """(RSS, anonymous RSS) in MB, or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return int(fields["VmRSS"].split()[0]) // 1024, int(fields["RssAnon"].split()[0]) // 1024
    except (OSError, KeyError):
        return None


def watch(proc: subprocess.Popen, each, every: float = 0.02) -> None:
    """In a thread, until proc exits: each(pid, rss MB, anonymous MB) for every process of its tree,
    every `every` seconds."""
    def sample():
        while proc.poll() is None:
            for pid in tree(proc.pid):
                got = memory(pid)
                if got is not None:
                    each(pid, *got)
            time.sleep(every)

    threading.Thread(target=sample, daemon=True).start()


def sample_peak(proc: subprocess.Popen) -> dict:
    """Watches proc's processes; the dict then holds the largest sample: {"rss": MB, "anon": MB}
    (RSS less anonymous memory is file-backed pages, mostly of libraries)."""
    peak = {"rss": 0, "anon": 0}

    def keep(pid, rss, anon):
        if rss > peak["rss"]:
            peak.update(rss=rss, anon=anon)

    watch(proc, keep)
    return peak


def main(cmd: list[str]) -> None:
    start = time.time()
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    except OSError as e:
        sys.exit(f"rss_timeline: cannot start {cmd[0]!r}: {e.strerror}")
    last = [""]
    peaks: dict[int, tuple] = {}      # pid -> (rss, anon, seconds, console line)
    timeline: list[tuple] = []        # (seconds, rss, anon, console line) of the command's own process

    def keep(pid, rss, anon):
        now = (rss, anon, time.time() - start, last[0])
        if pid == proc.pid:
            timeline.append((now[2], rss, anon, last[0]))
        if rss > peaks.get(pid, (0,))[0]:
            peaks[pid] = now

    watch(proc, keep)
    for line in proc.stdout:
        last[0] = line.strip()
        print(f"[{time.time() - start:6.1f}] {last[0]}")
    proc.wait()
    for pid, (rss, anon, at, line) in sorted(peaks.items(), key=lambda kv: -kv[1][0]):
        print(f"pid {pid}: peak {rss} MB ({anon} MB anonymous) at {at:.1f} s, after {line[:70]!r}")
    if timeline:
        top = max(timeline, key=lambda s: s[1])
        step = top[3].split()[0] if top[3] else ""
        shown = -1.0
        for at, rss, anon, line in timeline:
            if line.startswith(step) and at - shown >= 0.5:
                print(f"  {at:6.1f} s  {rss:5d} MB ({anon} anonymous)  {line[:60]}")
                shown = at
    sys.exit(proc.returncode)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python bench/rss_timeline.py COMMAND [ARGS...]  (the command to run and sample)")
    main(sys.argv[1:])
