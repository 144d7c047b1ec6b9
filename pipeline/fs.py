"""File operations on pipeline paths: plain os for local paths, tf.io.gfile for gs:// (the one object store
TensorFlow 2.21 implements; pipeline/sections.py refuses other schemes).

Local runs never import TensorFlow here, which keeps a fully cached run fast.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys


def is_remote(path: str) -> bool:
    return "://" in path


def _g():
    if "tensorflow" not in sys.modules:
        _import_tensorflow_quietly()
    import tensorflow as tf
    return tf.io.gfile


def _import_tensorflow_quietly() -> None:
    """TensorFlow's C++ side prints its CUDA probes to fd 2 while it is imported, before any log level
    applies: a command that only reads a gs:// file (`runs`, `show`) should not print them."""
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def join(*parts: str) -> str:
    return "/".join([parts[0].rstrip("/")] + [p.strip("/") for p in parts[1:]])


def check_bucket(path: str, timeout_s: float = 20.0) -> str | None:
    """For a gs:// path, why its bucket cannot be used (None if it can, or if we may not ask): TensorFlow
    retries a missing bucket for minutes (seen: a run hung 15 min on makedirs), this answers in seconds."""
    if not path.startswith("gs://"):
        return None
    from google.api_core import exceptions
    from google.cloud import storage
    name = path[5:].split("/", 1)[0]
    try:
        # project=None: a bucket lookup needs no project, and the user is asked for none (docs/storage.md);
        # the default would raise where Application Default Credentials carry no project
        found = storage.Client(project=None).lookup_bucket(name, timeout=timeout_s, retry=None)
    except exceptions.Forbidden:
        return None      # a key with object rights only: the bucket may well be there
    except Exception as e:  # noqa: BLE001  (no credentials, no network: say which, in one line)
        return f"could not reach bucket {name}: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
    return None if found is not None else f"bucket {name} does not exist"


def exists(path: str) -> bool:
    return _g().exists(path) if is_remote(path) else os.path.exists(path)


def listdir(path: str) -> list[str]:
    """Names in a folder, sorted ([] if it does not exist); an object store's "sub/" prefixes as "sub"."""
    if not exists(path):
        return []
    return sorted(n.rstrip("/") for n in (_g().listdir(path) if is_remote(path) else os.listdir(path)))


def makedirs(path: str) -> None:
    _g().makedirs(path) if is_remote(path) else os.makedirs(path, exist_ok=True)


def rmtree(path: str) -> None:
    if not exists(path):
        return
    _g().rmtree(path) if is_remote(path) else shutil.rmtree(path)


def remove(path: str) -> None:
    _g().remove(path) if is_remote(path) else os.remove(path)


def open_file(path: str, mode: str = "r"):
    return _g().GFile(path, mode) if is_remote(path) else open(path, mode)


def rename(src: str, dst: str, overwrite: bool = False, last: tuple[str, ...] = (), midway=None) -> None:
    """Rename a file or folder. Object stores have no folder rename: files are moved one by one, those
    named in `last` (relative paths) at the end, so their presence can mark the folder complete; midway()
    is called when half of them have moved (a fault point for tests)."""
    if not is_remote(src):
        if overwrite:
            os.replace(src, dst)
        else:
            os.rename(src, dst)
        return
    g = _g()
    if not g.isdir(src):
        g.rename(src, dst, overwrite=overwrite)
        return
    files = sorted(walk_files(src), key=lambda item: item[0] in last)
    for n, (rel, _) in enumerate(files):
        if midway and n == len(files) // 2:
            midway()
        g.makedirs(os.path.dirname(join(dst, rel)))
        g.rename(join(src, rel), join(dst, rel), overwrite=overwrite)
    if g.exists(src):   # a folder written by Beam's GcsIO has no "folder/" object: once emptied, it is gone
        g.rmtree(src)


def copy(src: str, dst: str) -> None:
    if is_remote(src) or is_remote(dst):
        _g().copy(src, dst, overwrite=True)
    else:
        shutil.copyfile(src, dst)


def walk_files(root: str):
    """Yield (relative path, size) of every file below root, sorted."""
    out = []
    if is_remote(root):
        for dirpath, _, files in _g().walk(root):
            for f in files:
                full = join(dirpath, f)
                out.append((full[len(root):].lstrip("/"), _g().stat(full).length))
    elif os.path.isfile(root):
        out.append(("", os.path.getsize(root)))
    else:
        for dirpath, _, files in os.walk(root):
            for f in files:
                full = os.path.join(dirpath, f)
                out.append((os.path.relpath(full, root), os.path.getsize(full)))
    return sorted(out)


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open_file(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def manifest(root: str) -> dict:
    """{relative path: {'sha256', 'size'}} of every file of an artifact."""
    return {rel: {"sha256": sha256_file(join(root, rel) if rel else root), "size": size}
            for rel, size in walk_files(root)}


def manifest_digest(files: dict) -> str:
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(f"{rel}\0{files[rel]['sha256']}\n".encode())
    return h.hexdigest()
