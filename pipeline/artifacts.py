"""Publishing artifacts: write under a staging folder, then rename into place, so a reader never
sees a half-written artifact. Paths may be local or remote (see pipeline/fs.py).
"""
from __future__ import annotations

import json
import os
import uuid

from pipeline import fs
from pipeline.fs import join  # noqa: F401  (re-exported: executors build paths with it)


def staging_dir(run_dir: str, component: str) -> str:
    path = join(run_dir, ".staging", f"{component}-{uuid.uuid4().hex[:8]}")
    fs.makedirs(path)
    return path


def publish(staged: str, final: str) -> None:
    """Move a finished output into its final place; refuse to replace an existing artifact."""
    if fs.exists(final):
        raise FileExistsError(f"{final}: artifact already published; refusing to overwrite it")
    fs.makedirs(os.path.dirname(final))
    fs.rename(staged, final)


def discard(path: str) -> None:
    fs.rmtree(path)


def write_text(path: str, text: str) -> None:
    """Write a file atomically (temp name, then rename over): a reader sees the old file or the new one."""
    folder = os.path.dirname(path)
    if folder:
        fs.makedirs(folder)
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    with fs.open_file(tmp, "w") as f:
        f.write(text)
    fs.rename(tmp, path, overwrite=True)


def write_json(path: str, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str))


def read_json(path: str):
    with fs.open_file(path) as f:
        return json.load(f)
