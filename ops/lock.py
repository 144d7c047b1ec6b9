"""Write the locks from the venv: requirements.lock, the runtime (what requirements.txt needs, with every
file's sha256 from PyPI: the venv and the worker image install it with hash checking),
requirements-dev.lock, the development tools of requirements-dev.txt that the runtime does not need (tests,
lint, profiler: never in the worker image), and requirements-pip.lock, the pip that installs them (the venv's
own, bootstrapped first by `make venv`).

Every `name[extra]` that the closure asks for gets a line of its own (`google-auth[pyopenssl]==2.63.0`, same
hashes as the plain pin). The pip that `python3.11 -m venv` brings (23.2.1 on Python 3.11.7) resolves a
requirement with extras as a candidate apart from the plain name: without that line it takes the newest
release on the index, which has no hash in the lock, and the install fails the day upstream publishes a patch
(issue #39; tests/test_lock.py).

    make lock        # pip install -r requirements.txt -r requirements-dev.txt, then python -m ops.lock
    make airflow-lock   # a tool's own venv (airflow, kfp): build/airflow/venv/bin/python -m ops.lock --tool airflow

The closure is read from the installed packages' metadata (their Requires-Dist, markers evaluated for this
Python and the extras asked for), so nothing is resolved twice; hashes come from PyPI's simple API (PEP 691).
"""
from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import re
import urllib.request

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INDEX = "https://pypi.org/simple"
ALWAYS = ("wheel",)   # astunparse (TensorFlow's) builds with it on the workers; pip freeze leaves it out


def roots(path: str) -> list[Requirement]:
    lines = (re.sub(r"#.*", "", ln).strip() for ln in open(path))
    return [Requirement(ln) for ln in lines if ln and not ln.startswith("-")]


def closure(reqs: list[Requirement], extras_seen: dict[str, set] | None = None) -> dict[str, str]:
    """canonical name -> installed version of everything reqs need, transitively; extras_seen, if given,
    gets every set of extras asked of each name."""
    found: dict[str, str] = {}
    todo = [(r, frozenset(r.extras)) for r in reqs]
    seen: set = set()
    while todo:
        req, extras = todo.pop()
        name = canonicalize_name(req.name)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        if extras and extras_seen is not None:
            extras_seen.setdefault(name, set()).add(extras)
        dist = md.distribution(req.name)
        found[name] = dist.version
        for line in dist.requires or []:
            dep = Requirement(line)
            wanted = [""] + sorted(extras)
            if dep.marker and not any(dep.marker.evaluate(default_environment() | {"extra": e}) for e in wanted):
                continue
            todo.append((dep, frozenset(dep.extras)))
    return found


def hashes(name: str, version: str) -> list[str]:
    request = urllib.request.Request(f"{INDEX}/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        files = json.load(answer)["files"]
    out = []
    for f in files:
        try:
            v = (parse_wheel_filename(f["filename"])[1] if f["filename"].endswith(".whl")
                 else parse_sdist_filename(f["filename"])[1])
        except ValueError:
            continue
        if str(v) == version and "sha256" in f["hashes"]:
            out.append(f["hashes"]["sha256"])
    if not out:
        raise SystemExit(f"{name}=={version}: no file of this version on {INDEX}")
    return sorted(out)


def write(path: str, header: str, pins: dict[str, str], extras: dict[str, set] | None = None) -> None:
    lines = [header]
    for name in sorted(pins):
        sha = hashes(name, pins[name])
        spellings = [name] + [f"{name}[{','.join(sorted(e))}]" for e in sorted((extras or {}).get(name, ()), key=sorted)]
        for spelling in spellings:
            lines.append(f"{spelling}=={pins[name]} \\")
            lines += [f"    --hash=sha256:{h} \\" for h in sha]
            lines[-1] = lines[-1].rstrip(" \\")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ops.lock", description=__doc__.splitlines()[0])
    ap.add_argument("--tool", choices=("airflow", "kfp"), help="run by that tool's own venv's Python "
                    "(build/<tool>/venv): write requirements-<tool>.lock from requirements-<tool>.txt")
    tool = ap.parse_args(argv).tool
    if tool:
        extras: dict[str, set] = {}
        pins = closure(roots(os.path.join(ROOT, f"requirements-{tool}.txt")), extras)
        write(os.path.join(ROOT, f"requirements-{tool}.lock"), f"# {tool} and what it needs, with sha256 (make "
              f"{tool}-lock; ops/lock.py --tool {tool}), for its own venv (make {tool}-venv).", pins, extras)
        print(f"requirements-{tool}.lock: {len(pins)} packages")
        return 0
    extras = {}
    runtime = closure(roots(os.path.join(ROOT, "requirements.txt")) + [Requirement(n) for n in ALWAYS], extras)
    dev_extras: dict[str, set] = {}
    dev = {n: v for n, v in closure(roots(os.path.join(ROOT, "requirements-dev.txt")), dev_extras).items()
           if n not in runtime}
    write(os.path.join(ROOT, "requirements.lock"), "# The runtime lock: what requirements.txt needs, with sha256 "
          "(make lock; ops/lock.py). The worker image installs exactly this.", runtime, extras)
    write(os.path.join(ROOT, "requirements-dev.lock"), "# Development tools (requirements-dev.txt) beyond the "
          "runtime lock, with sha256 (make lock; ops/lock.py). Never in the worker image.", dev,
          {n: e for n, e in dev_extras.items() if n in dev})
    write(os.path.join(ROOT, "requirements-pip.lock"), "# The pip that installs the locks, installed into the "
          "venv first (make venv; make lock; ops/lock.py).", {"pip": md.version("pip")})
    print(f"requirements.lock: {len(runtime)} packages; requirements-dev.lock: {len(dev)}; pip {md.version('pip')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
