"""The hashed locks install with the pip that `python3.11 -m venv` brings (issue #39).

pip 23.2 resolves a requirement that carries extras (`google-auth[pyopenssl]>=2.14.1`) as a candidate apart
from the plain name, so the lock's `google-auth==2.63.0` does not pin it: it took the newest release on the
index, which has no hash in the lock, and `make venv` failed the day that release came out. The lock is
complete for such a pip only if every `name[extra]` its packages ask for has a pinned, hashed line of its
own. This test failed on 3d76668's lock (apache-beam[gcp], google-auth[pyopenssl], ... had none).

    .venv/bin/python -m pytest -q tests/test_lock.py
"""
import importlib.metadata as md
import os
import re

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCKS = ("requirements.lock", "requirements-dev.lock")


def read_lock(*names: str) -> dict[tuple[str, frozenset], tuple[str, int]]:
    """(canonical name, extras) -> (pinned version, number of hashes) for every line of the lock files."""
    out = {}
    for name in names:
        text = open(os.path.join(REPO, name)).read().replace("\\\n", " ")
        for line in text.splitlines():
            line = re.sub(r"#.*", "", line).strip()
            if not line:
                continue
            spec, *opts = line.split()
            req = Requirement(spec)
            pins = [s.version for s in req.specifier if s.operator == "=="]
            assert len(pins) == 1, f"{name}: {spec} is not pinned with =="
            key = (canonicalize_name(req.name), frozenset(req.extras))
            out[key] = (pins[0], sum(o.startswith("--hash=sha256:") for o in opts))
    return out


def asked_with_extras(lock) -> list[tuple[str, str, frozenset, Requirement]]:
    """(who asks, name, extras, requirement) for every requirement with extras that a locked line needs."""
    asks = []
    for (name, extras), (version, _) in sorted(lock.items(), key=lambda kv: (kv[0][0], sorted(kv[0][1]))):
        dist = md.distribution(name)
        assert dist.version == version, f"{name}: installed {dist.version}, locked {version}: run make venv"
        for line in dist.requires or []:
            dep = Requirement(line)
            if dep.marker and not any(dep.marker.evaluate(default_environment() | {"extra": e})
                                      for e in [""] + sorted(extras)):
                continue
            if dep.extras:
                asks.append((f"{name}=={version}", canonicalize_name(dep.name), frozenset(dep.extras), dep))
    return asks


def test_every_line_is_pinned_and_hashed():
    lock = read_lock(*LOCKS, "requirements-pip.lock")
    unhashed = [f"{n}[{','.join(sorted(e))}]" if e else n for (n, e), (_, k) in lock.items() if k == 0]
    assert not unhashed, f"lines without --hash: {unhashed}"


def test_every_name_with_extras_that_the_closure_asks_for_has_its_own_pinned_line():
    lock = read_lock(*LOCKS)
    asks = asked_with_extras(lock)
    assert asks, "no locked package asks for extras: the check below would prove nothing"
    missing = sorted({f"{name}[{','.join(sorted(extras))}] (asked by {who})"
                      for who, name, extras, _ in asks if (name, extras) not in lock})
    assert not missing, "an old pip resolves these apart from the plain pin: " + "; ".join(missing)
    for who, name, extras, dep in asks:
        version = lock[(name, extras)][0]
        assert version == lock[(name, frozenset())][0], f"{name}[...] and {name} are locked at different versions"
        assert dep.specifier.contains(version, prereleases=True), f"{who} asks {dep}, the lock has {version}"


@pytest.mark.parametrize("root", ["requirements.txt", "requirements-dev.txt"])
def test_the_roots_extras_are_locked_too(root):
    lock = read_lock(*LOCKS)
    lines = (re.sub(r"#.*", "", ln).strip() for ln in open(os.path.join(REPO, root)))
    for req in (Requirement(ln) for ln in lines if ln):
        key = (canonicalize_name(req.name), frozenset(req.extras))
        assert key in lock, f"{root}: {req} has no line of its own in the locks"


def test_make_venv_installs_the_pinned_pip_before_the_locks():
    makefile = open(os.path.join(REPO, "Makefile")).read()
    recipe = makefile[makefile.index("$(STAMP):"):]
    assert "requirements-pip.lock" in makefile[makefile.index("$(STAMP):"):makefile.index("\n", makefile.index("$(STAMP):"))]
    assert recipe.index("-r requirements-pip.lock") < recipe.index("-r requirements.lock")
