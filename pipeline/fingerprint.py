"""Fingerprints that decide caching: an execution is fixed by its component's code, its parameters and
the digests of its inputs. Artifact digests are hashes of their file manifests (pipeline/fs.py)."""
from __future__ import annotations

import functools
import hashlib
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBRARIES = ("tensorflow", "tf_keras", "apache-beam", "tensorflow-transform", "tensorflow-model-analysis", "tfx-bsl")


@functools.lru_cache(maxsize=None)
def library_versions() -> dict:
    from importlib.metadata import version
    return {name: version(name) for name in LIBRARIES}


@functools.lru_cache(maxsize=None)
def code_version(paths: tuple[str, ...]) -> str:
    """sha256 over the component's source files (folders are read recursively) and library versions."""
    h = hashlib.sha256(json.dumps(library_versions(), sort_keys=True).encode())
    for rel in paths:
        full = os.path.join(ROOT, rel)
        files = [full] if os.path.isfile(full) else sorted(
            os.path.join(d, f) for d, _, fs in os.walk(full) for f in fs if f.endswith(".py"))
        for f in files:
            h.update(os.path.relpath(f, ROOT).encode() + b"\0")
            with open(f, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


def execution_fingerprint(component: str, code: str, params: dict, input_digests: dict) -> str:
    blob = json.dumps({"component": component, "code": code, "params": params, "inputs": input_digests},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()
