"""Where a Beam step's time goes on Flink: each phase of each step of one run, from five clocks (issue #42).

    python bench/flink_phases.py --compare    # direct, then flink twice (the second on a warm cluster): phases
                                              # and each step's fixed cost; starts (and stops) the cluster if down
    make pipeline RUNNER=flink ARGS=--no-cache && python bench/flink_phases.py   # the latest run's phases
    python bench/flink_phases.py --run RUN_ID --metadata pipeline_root/metadata.sqlite --flink-home build/flink

`--compare` runs the default data (the MNIST sample offline) with nothing cached, in-process and on the
local cluster, in one scratch root each, and prints each Beam step's fixed cost on Flink: its wall there
less its wall in-process (goal: at most 5 s, issue #42), with the CPU and the host's steal beside it.

The clocks, all of this machine: the driver's metadata store (each step's start and end), Beam's job server
(`jobserver.out`: when it was handed the job), the JobManager (`jobmanager.out`: when the JobGraph arrived),
Flink's REST API (the job's state timestamps, each vertex's start and end) and the worker pool's log (each
SDK worker the TaskManager asked for). Prints one table row per step, seconds per phase:

    submit    step start -> job server invokes the job (driver: graph, staging of artifacts, Job API)
    to-flink  job server invokes -> JobManager receives the JobGraph (translation, jars to the blob server)
    schedule  JobGraph received -> job RUNNING (Flink: job master, slots)
    to-worker RUNNING -> first SDK worker requested (task deployment, the tasks' class loading)
    work      first SDK worker -> job FINISHED (records moving)
    after     FINISHED -> step end (the driver's wait, its metrics, publishing)
"""
from __future__ import annotations

import argparse
import datetime as dt
import glob
import json
import os
import re
import sqlite3
import sys
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
BEAM_STEPS = ("ingest", "statistics", "transform", "evaluator")
STAMP = r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d{3})"
PHASES = ("submit", "to-flink", "schedule", "to-worker", "work", "after")


def _epoch(text: str) -> float:
    return dt.datetime.strptime(text.replace(".", ","), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def stamps(path: str, pattern: str) -> list[tuple[float, re.Match]]:
    """(epoch, match) of every line of a log that has a timestamp and matches pattern."""
    out = []
    for line in open(path, errors="replace") if os.path.exists(path) else ():
        m, t = re.search(pattern, line), re.match(STAMP, line) or re.search(STAMP, line[:40])
        if m and t:
            out.append((_epoch(t.group(1)), m))
    return out


def rest(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://localhost:{port}/{path}", timeout=10) as r:
        return json.load(r)


def steps_of(metadata: str, run_id: str | None) -> tuple[str, dict]:
    con = sqlite3.connect(metadata)
    run_id = run_id or con.execute("SELECT run_id FROM runs ORDER BY started DESC LIMIT 1").fetchone()[0]
    rows = con.execute("SELECT component, started, finished, cached_from FROM executions WHERE run_id=?", (run_id,))
    return run_id, {c: (s, f) for c, s, f, cached in rows if c in BEAM_STEPS and not cached}


def phases(run_id: str, steps: dict, home: str, port: int) -> dict[str, dict]:
    logs = os.path.join(home, "log")
    jobs = {j["name"]: j for j in rest(port, "jobs/overview")["jobs"]}
    invoked = stamps(os.path.join(logs, "jobserver.out"), r"Invoking job (\S+?)_[0-9a-f-]{36}")
    received = stamps(os.path.join(logs, "jobmanager.out"), r"Received JobGraph submission '([^']+)'")
    workers = [t for path in glob.glob(os.path.join(logs, "worker-pool-*.log"))
               for t, _ in stamps(path, r"worker \S+ -> warm process|StartWorker")]
    out = {}
    for step, (start, end) in sorted(steps.items(), key=lambda kv: kv[1][0]):
        name = next((n for n in jobs if n.endswith(f"-{step}-{run_id}")), None)
        if not name:
            continue
        job = rest(port, f"jobs/{jobs[name]['jid']}")
        ts = {k: v / 1000 for k, v in job["timestamps"].items() if v}
        inv = min((t for t, m in invoked if m.group(1) == name and t >= start - 1), default=None)
        got = min((t for t, m in received if m.group(1) == name), default=ts.get("INITIALIZING"))
        first = min((t for t in workers if ts["RUNNING"] <= t <= ts.get("FINISHED", end)), default=None)
        points = [start, inv, got, ts.get("RUNNING"), first, ts.get("FINISHED"), end]
        hosts = {t.get("taskmanager-id") for v in job["vertices"]
                 for t in rest(port, f"jobs/{job['jid']}/vertices/{v['id']}").get("subtasks", [])}
        out[step] = {"wall": end - start, **{p: (b - a if a and b else None)
                                              for p, a, b in zip(PHASES, points, points[1:])},
                     "vertices": len(job["vertices"]), "taskmanagers": len(hosts - {None}),
                     "running": ts["FINISHED"] - ts["RUNNING"] if "FINISHED" in ts and "RUNNING" in ts else None}
    return out


def table(rows: dict[str, dict]) -> str:
    head = "| step | wall | " + " | ".join(PHASES) + " | vertices |\n|" + " --- |" * (len(PHASES) + 3)
    lines = [head]
    for step, r in rows.items():
        cells = [f"{r[p]:.1f}" if r[p] is not None else "?" for p in PHASES]
        lines.append(f"| {step} | {r['wall']:.1f} | " + " | ".join(cells) + f" | {r['vertices']} |")
    return "\n".join(lines)


def _run(root: str, runner: str) -> dict[str, float]:
    """A whole cold run of the default config on one runner; the wall of each Beam step (s)."""
    import subprocess
    metadata = os.path.join(root, "metadata.sqlite")
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", "--no-cache", "--runner", runner,
                           "--set", f"pipeline.root={root}"], cwd=REPO, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"the {runner} run failed: {proc.stderr.strip()[-1500:]}")
    return {step: end - start for step, (start, end) in steps_of(metadata, None)[1].items()}


def compare(args) -> dict:
    import tempfile

    from bench.harness import cpu_flags, cpu_ticks, record, stolen, verdict
    from cli.config import load_config
    from ops import flink as cluster
    section = load_config(os.path.join(REPO, "pipeline.yaml")).flink
    started = len(cluster.running(section)) < len(cluster.PROCESSES)   # a cluster it starts, it stops
    cluster.up(section)
    ticks = cpu_ticks()
    try:
        with tempfile.TemporaryDirectory(prefix="flink-phases-", dir=os.path.join(REPO, "build")) as tmp:
            direct = _run(os.path.join(tmp, "direct"), "direct")
            for _ in range(2):   # the first on Flink also warms the cluster's JVMs (class loading, JIT)
                flink = _run(os.path.join(tmp, "flink"), "flink")
            run_id, steps = steps_of(os.path.join(tmp, "flink", "metadata.sqlite"), None)
            rows = phases(run_id, steps, args.flink_home, args.rest_port)
    finally:
        if started:
            cluster.down(section)
    print(f"run {run_id} (the second on Flink), on {cpu_flags()}; {stolen(ticks)}")
    print(table(rows))
    print("\n| step | in-process s | flink s | fixed cost s (goal <= 5) |\n| --- | --- | --- | --- |")
    for step in BEAM_STEPS:
        fixed = flink[step] - direct[step]
        print(f"| {step} | {direct[step]:.1f} | {flink[step]:.1f} | {fixed:.1f} |")
        record("flink_phases.py", f"{step}: fixed cost on the warm local Flink cluster {fixed:.1f} s "
               f"({flink[step]:.1f} s against {direct[step]:.1f} s in-process)", verdict("<= 5", fixed))
    print(f"the Beam steps end to end: {sum(flink.values()):.1f} s of step walls on Flink (statistics beside "
          f"transform), {sum(direct.values()):.1f} s in-process")
    return {"run": run_id, "rows": rows, "direct": direct, "flink": flink}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compare", action="store_true", help="run direct and flink first (see above)")
    ap.add_argument("--run", help="run id (default: the latest in the store)")
    ap.add_argument("--metadata", default=os.path.join(REPO, "pipeline_root", "metadata.sqlite"))
    ap.add_argument("--flink-home", default=os.path.join(REPO, "build", "flink"))
    ap.add_argument("--rest-port", type=int, default=8081)
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args(argv)
    if args.compare:
        out = compare(args)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(out, f, indent=1)
        return 0
    run_id, steps = steps_of(args.metadata, args.run)
    rows = phases(run_id, steps, args.flink_home, args.rest_port)
    print(f"run {run_id}: seconds per phase of each Beam step on Flink (bench/flink_phases.py)")
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"run": run_id, "rows": rows}, f, indent=1)
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
