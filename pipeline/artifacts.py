"""Publishing artifacts: write under a staging folder, then move into place. Paths may be local or gs://
(see pipeline/fs.py).

What marks an artifact complete: the metadata store, which records it only once every file is in place
(TFX's MLMD does the same). Locally the move is one rename, so a folder at an artifact's final path is
always whole. An object store has no folder rename: files are moved one by one, and a process killed
midway leaves part of a folder that no record names; nothing reads it (the cache, lineage, verify and the
resolvers all go through the store), and the next run on that root removes it (runner.sweep_killed).
"""
from __future__ import annotations

import errno
import json
import os
import uuid

from pipeline import fs
from pipeline.fs import join  # noqa: F401  (re-exported: executors build paths with it)


def staging_dir(run_dir: str, component: str) -> str:
    path = join(run_dir, ".staging", f"{component}-{uuid.uuid4().hex[:8]}")
    fs.makedirs(path)
    return path


def publish(staged: str, final: str, midway=None) -> None:
    """Move a finished output into its final place; refuse to replace an existing artifact."""
    if fs.exists(final):
        raise FileExistsError(f"{final}: artifact already published; refusing to overwrite it")
    fs.makedirs(os.path.dirname(final))
    fs.rename(staged, final, midway=midway)


def discard(path: str) -> None:
    fs.rmtree(path)


def write_text(path: str, text: str, in_place_if_full: bool = False) -> None:
    """Write a file atomically (temp name, then rename over): a reader sees the old file or the new one.

    in_place_if_full: when the disk is full, overwrite the file where it is instead (its old blocks are
    reused). For the last word of a failed run, which matters more than atomicity: a full disk is a
    common reason to fail, and then the temp copy has no room.
    """
    folder = os.path.dirname(path)
    if folder:
        fs.makedirs(folder)
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        with fs.open_file(tmp, "w") as f:
            f.write(text)
        fs.rename(tmp, path, overwrite=True)
    except OSError as e:
        if fs.exists(tmp):
            fs.remove(tmp)     # a partial temp file must not hold the space a retry needs
        if not (in_place_if_full and e.errno == errno.ENOSPC and not fs.is_remote(path)):
            raise
        with open(path, "w") as f:
            f.write(text)


def write_json(path: str, obj, in_place_if_full: bool = False) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str), in_place_if_full)


def read_json(path: str):
    with fs.open_file(path) as f:
        return json.load(f)


def write_file(spec, folder: str, payload) -> str:
    """Write one of contract/artifacts.py's files into the artifact folder, stamped with its version."""
    from contract.artifacts import stamped
    path = join(folder, spec.file)
    write_json(path, stamped(spec, payload))
    return path


def read_file(spec, folder: str):
    """Read one of contract/artifacts.py's files from the artifact folder; SchemaError (one line naming the
    file) when its version is not the one this code reads."""
    from contract.artifacts import unstamped
    path = join(folder, spec.file)
    return unstamped(spec, read_json(path), path)
