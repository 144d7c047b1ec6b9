"""Publishing artifacts: write under a staging folder, then rename into place, so a reader never
sees a half-written artifact. All paths go through tf.io.gfile (local, gs://, s3://, hdfs://).
"""
from __future__ import annotations

import json
import os
import uuid


def gfile():
    import tensorflow as tf
    return tf.io.gfile


def join(*parts: str) -> str:
    return "/".join([parts[0].rstrip("/")] + [p.strip("/") for p in parts[1:]])


def staging_dir(run_dir: str, component: str) -> str:
    path = join(run_dir, ".staging", f"{component}-{uuid.uuid4().hex[:8]}")
    gfile().makedirs(path)
    return path


def publish(staged: str, final: str) -> None:
    """Move a finished output into its final place; refuse to replace an existing artifact."""
    g = gfile()
    if g.exists(final):
        raise FileExistsError(f"{final}: artifact already published; refusing to overwrite it")
    g.makedirs(os.path.dirname(final))
    g.rename(staged, final)


def discard(path: str) -> None:
    g = gfile()
    if g.exists(path):
        g.rmtree(path)


def write_json(path: str, obj) -> None:
    """Write JSON atomically (temp name, then rename over)."""
    g = gfile()
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    with g.GFile(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=str)
    g.rename(tmp, path, overwrite=True)


def read_json(path: str):
    with gfile().GFile(path) as f:
        return json.load(f)
