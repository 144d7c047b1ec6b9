"""File operations on pipeline paths: plain os for local paths, tf.io.gfile for gs://, s3://, hdfs://.

Local runs never import TensorFlow here, which keeps a fully cached run fast.
"""
from __future__ import annotations

import hashlib
import os
import shutil


def is_remote(path: str) -> bool:
    return "://" in path


def _g():
    import tensorflow as tf
    return tf.io.gfile


def join(*parts: str) -> str:
    return "/".join([parts[0].rstrip("/")] + [p.strip("/") for p in parts[1:]])


def exists(path: str) -> bool:
    return _g().exists(path) if is_remote(path) else os.path.exists(path)


def makedirs(path: str) -> None:
    _g().makedirs(path) if is_remote(path) else os.makedirs(path, exist_ok=True)


def rmtree(path: str) -> None:
    if not exists(path):
        return
    _g().rmtree(path) if is_remote(path) else shutil.rmtree(path)


def open_file(path: str, mode: str = "r"):
    return _g().GFile(path, mode) if is_remote(path) else open(path, mode)


def rename(src: str, dst: str, overwrite: bool = False) -> None:
    """Rename a file or folder. Object stores have no folder rename: files are moved one by one
    (the metadata store, not the folder, says when an artifact is complete)."""
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
    for rel, _ in walk_files(src):
        g.makedirs(os.path.dirname(join(dst, rel)))
        g.rename(join(src, rel), join(dst, rel), overwrite=overwrite)
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
