"""Fingerprints that decide caching: an execution is fixed by its component's code, its parameters and
the digests of its inputs. Artifact digests are hashes of their file manifests (pipeline/fs.py).

A component's code is every file of its package (also what is loaded by other means than `import`: a
module handed to a library by name, a script run as a program, a data file), plus the transitive closure
of in-repository imports of its declaring and executor modules (every `import`, also those inside
functions), found by reading the source, never a hand-kept list; less the files in NEUTRAL, which cannot
change what a step writes. The key also holds the lock file's digest, the Python version and the installed
versions of the libraries that compute. Choices made from the machine (trainer.precision: auto) are
resolved before hashing, as parameters.

    python -c "from pipeline.fingerprint import code_files; print(code_files(('components.transform.executor',)))"
"""
from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import platform

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCK = "requirements.lock"   # the exact pins of every runtime dependency
# Files that talk to people or package code, and cannot change what a step writes: editing a console
# message must not retrain the model.
NEUTRAL = ("pipeline/console.py", "pipeline/packaging.py")
LIBRARIES = ("tensorflow", "tf_keras", "apache-beam", "tensorflow-transform", "tensorflow-model-analysis", "tfx-bsl")


@functools.lru_cache(maxsize=None)
def library_versions() -> dict:
    from importlib.metadata import version
    return {name: version(name) for name in LIBRARIES}


def _module_file(name: str, root: str) -> str | None:
    base = os.path.join(root, *name.split("."))
    for path in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(path):
            return os.path.relpath(path, root)
    return None


def _with_packages(name: str, root: str) -> list[str]:
    """A module and the packages above it: importing a.b.c runs a/__init__.py and a/b/__init__.py too."""
    parts = name.split(".")
    found = [_module_file(".".join(parts[:i]), root) for i in range(1, len(parts) + 1)]
    return [f for f in found if f]


def _imports(rel: str, root: str) -> set[str]:
    """Names of the modules a source file imports (absolute, relative resolved; 'from a import b' also
    tries a.b, which may be a submodule)."""
    with open(os.path.join(root, rel)) as f:
        tree = ast.parse(f.read(), filename=rel)
    package = os.path.dirname(rel).replace(os.sep, ".")
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([p for p in up if p] + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


def closure(modules: tuple[str, ...], root: str = ROOT, stop: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Repository-relative paths of every in-repository source file the modules import, transitively
    (not following the files in stop)."""
    todo = [f for m in modules for f in _with_packages(m, root)]
    seen: set[str] = set()
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        if rel not in stop:
            for name in _imports(rel, root):
                todo.extend(f for f in _with_packages(name, root) if f not in seen)
    return tuple(sorted(seen))


def package_files(modules: tuple[str, ...], root: str = ROOT) -> set[str]:
    """Every file in the folders of the modules (a component's package), whether imported or not."""
    found = set()
    for m in modules:
        module = _module_file(m, root)
        if not module or os.path.dirname(module) in ("", "."):
            continue
        for folder, dirs, files in os.walk(os.path.join(root, os.path.dirname(module))):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            found |= {os.path.relpath(os.path.join(folder, f), root) for f in files if not f.endswith(".pyc")}
    return found


def code_files(modules: tuple[str, ...], root: str = ROOT) -> tuple[str, ...]:
    """The files of a component's code version: its package, its import closure, less NEUTRAL."""
    return tuple(sorted((set(closure(modules, root, NEUTRAL)) | package_files(modules, root)) - set(NEUTRAL)))


@functools.lru_cache(maxsize=None)
def code_version(modules: tuple[str, ...], root: str = ROOT) -> str:
    """sha256 over the code files, the lock file, the Python version and the installed library versions."""
    h = hashlib.sha256(json.dumps({"libraries": library_versions(), "python": platform.python_version()},
                                  sort_keys=True).encode())
    files = code_files(modules, root)
    for rel in (LOCK, *files) if os.path.exists(os.path.join(root, LOCK)) else files:
        h.update(rel.encode() + b"\0")
        with open(os.path.join(root, rel), "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()


def execution_fingerprint(component: str, code: str, params: dict, input_digests: dict) -> str:
    blob = json.dumps({"component": component, "code": code, "params": params, "inputs": input_digests},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()
