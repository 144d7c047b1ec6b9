"""Read-only views of the metadata store for the CLI: runs, one run, an artifact's lineage."""
from __future__ import annotations

import datetime
import os

from pipeline import artifacts as af
from pipeline import fs


def _when(ts) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def list_runs(store) -> str:
    lines = [f"{'run':<22} {'started':<20} {'status':<10} {'dataset':<14} {'accuracy':>8}  blessed"]
    for r in store.runs():
        acc, blessed = "", ""
        if r["status"] == "succeeded" and fs.exists(r["summary_path"]):
            s = af.read_json(r["summary_path"])
            acc, blessed = f"{s['metrics']['accuracy']:.4f}", str(s["blessed"])
        lines.append(f"{r['run_id']:<22} {_when(r['started']):<20} {r['status']:<10} {r['dataset'] or '':<14} {acc:>8}  {blessed}")
    return "\n".join(lines)


def show_run(store, run_id: str) -> str:
    run = store.run(run_id)
    if not run:
        raise KeyError(run_id)
    lines = [f"run {run_id}: {run['status']} (started {_when(run['started'])}, finished {_when(run['finished'])})"]
    if run["error"]:
        lines.append(f"error: {run['error']}")
    for exe in store.executions(run_id):
        how = f"cached from execution {exe['cached_from']}" if exe["status"] == "cached" else exe["status"]
        lines.append(f"  [{exe['id']}] {exe['component']:<10} {how:<32} {exe['seconds'] or 0:8.1f} s  fp {exe['fingerprint'][:12]}")
        for name, art in store.events(exe["id"], "output").items():
            lines.append(f"        -> {name}: artifact {art['id']} {art['uri']} (digest {art['digest'][:12]})")
    return "\n".join(lines)


def lineage(store, key: str) -> str:
    """What produced an artifact, from which inputs (recursively, down to the IDX files), and who used it."""
    art = _find(store, key)
    if not art:
        raise KeyError(key)
    lines: list[str] = []
    _trace(store, art, 0, lines, set())
    users = store.consumers(art["id"])
    lines.append("used by:" if users else "used by: nothing yet")
    lines += [f"  run {e['run_id']} {e['component']} (execution {e['id']}, {e['status']})" for e in users]
    return "\n".join(lines)


def _find(store, key: str) -> dict | None:
    """By id, by URI as recorded, or by any spelling of the same local folder (absolute, relative to here,
    through a symlink): runs record their root as they were given it."""
    art = store.artifact(key)
    if art or key.isdigit() or fs.is_remote(key):
        return art
    want = os.path.realpath(key)
    same = [uri for uri in store.artifact_uris() if not fs.is_remote(uri) and os.path.realpath(uri) == want]
    return store.artifact(same[0]) if same else None


def _trace(store, art: dict, depth: int, lines: list, seen: set) -> None:
    pad = "  " * depth
    if art["id"] in seen:   # a shared ancestor (the examples feed five steps): its tree once
        lines.append(f"{pad}{art['name']}: artifact {art['id']} (traced above)")
        return
    seen.add(art["id"])
    lines.append(f"{pad}{art['name']}: artifact {art['id']} {art['uri']} (digest {art['digest'][:12]})")
    if art["producer"] is None:  # an external input: the dataset files and their checksums
        for role, f in sorted((art["manifest"] or {}).items()):
            lines.append(f"{pad}  {role}: {f.get('path', '')} sha256 {f['sha256']}")
        return
    exe = store.execution(art["producer"])
    params = ", ".join(f"{k}={v}" for k, v in sorted(exe["params"].items()))
    lines.append(f"{pad}  <- {exe['component']} execution {exe['id']} in run {exe['run_id']} "
                 f"(code {exe['code_version'][:12]}; {params})")
    for _, parent in sorted(store.events(exe["id"], "input").items()):
        _trace(store, parent, depth + 2, lines, seen)


def verify_run(store, run_id: str) -> tuple[bool, str]:
    """Re-check every artifact a run produced or reused against its recorded file checksums."""
    if not store.run(run_id):
        raise KeyError(run_id)
    ok, lines = True, []
    for exe in store.executions(run_id):
        for name, art in store.events(exe["id"], "output").items():
            problems = _check_manifest(art["uri"], art["manifest"] or {})
            ok &= not problems
            lines.append(f"{'OK  ' if not problems else 'BAD '} {exe['component']}/{name}: {art['uri']} "
                         f"({len(art['manifest'] or {})} files)")
            lines += [f"       {p}" for p in problems]
    lines.append("all artifacts match their checksums" if ok else "some artifacts are missing or changed")
    return ok, "\n".join(lines)


def _check_manifest(root: str, expected: dict) -> list[str]:
    if not fs.exists(root):
        return ["missing"]
    actual = fs.manifest(root)
    problems = [f"missing file {rel}" for rel in sorted(set(expected) - set(actual))]
    problems += [f"unexpected file {rel}" for rel in sorted(set(actual) - set(expected))]
    problems += [f"changed file {rel} (sha256 {actual[rel]['sha256'][:12]}, recorded {expected[rel]['sha256'][:12]})"
                 for rel in sorted(set(actual) & set(expected)) if actual[rel]["sha256"] != expected[rel]["sha256"]]
    return problems
