"""Summarise a py-spy raw profile: where the samples of every thread go, by inclusive share.

    py-spy record -r 50 -f raw -o /tmp/eval.raw -- python bench/evaluate.py --variant ours
    python bench/profile_summary.py /tmp/eval.raw [--top 25] [--match tensorflow_model_analysis]
    python bench/profile_summary.py /tmp/run.raw --by-step   # a whole `python -m pipeline run`, step x phase

py-spy samples all threads (Beam's in-process runner executes bundles on worker threads, which
pyinstrument does not see). Shares are of all samples, idle threads excluded by py-spy's default.
"""
from __future__ import annotations

import argparse
import collections
import re


def load(path: str) -> list[tuple[list[str], int]]:
    stacks = []
    for line in open(path):
        frames, _, count = line.rstrip("\n").rpartition(" ")
        if frames:
            stacks.append((frames.split(";"), int(count)))
    return stacks


def short(frame: str) -> str:
    """'func (path/to/site-packages/pkg/mod.py:12)' -> 'func (pkg/mod.py)'."""
    m = re.match(r"(.*) \((.*?):\d+\)$", frame)
    if not m:
        return frame
    func, path = m.groups()
    path = re.sub(r".*site-packages/", "", path)
    path = re.sub(r".*/work/[^/]+/", "", path)
    return f"{func} ({path})"


def inclusive(stacks, match: str | None) -> tuple[collections.Counter, int]:
    total, seen = 0, collections.Counter()
    for frames, count in stacks:
        total += count
        for name in {short(f) for f in frames if not match or match in f}:
            seen[name] += count
    return seen, total


PHASES = (("imports", "_find_and_load ("), ("model.fit", "fit (tf_keras/"), ("SavedModel export", "export_model ("),
          ("serving process", "probe.py"), ("Beam job", "run_pipeline (apache_beam/"))


def by_step(stacks, hz: float) -> None:
    """Seconds of samples per pipeline step (the components/<step>/ frame) and phase (PHASES, first match)."""
    table: dict = collections.defaultdict(collections.Counter)
    for frames, count in stacks:
        joined = ";".join(frames)
        step = next((m.group(1) for f in frames if (m := re.search(r"components/(\w+)/", f))), "(outside the steps)")
        if "probe.py" in joined:
            step = "infra_validator"
        phase = next((name for name, needle in PHASES if needle in joined), "other")
        table[step][phase] += count
    names = [p for p, _ in PHASES] + ["other"]
    print(f"{'step':<22}" + "".join(f"{n:>19}" for n in names) + f"{'all':>9}")
    for step, phases in sorted(table.items(), key=lambda kv: -sum(kv[1].values())):
        print(f"{step:<22}" + "".join(f"{phases[n] / hz:18.1f}s" for n in names) + f"{sum(phases.values()) / hz:8.1f}s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("raw")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", default=None, help="only frames whose file path contains this")
    parser.add_argument("--by-step", action="store_true", help="seconds per pipeline step and phase")
    parser.add_argument("--rate", type=float, default=50, help="the py-spy sampling rate (-r) of the profile")
    args = parser.parse_args()
    stacks = load(args.raw)
    if args.by_step:
        return by_step(stacks, args.rate)
    seen, total = inclusive(stacks, args.match)
    selfs = collections.Counter()
    for frames, count in stacks:
        selfs[short(frames[-1])] += count
    print(f"{total} samples\n-- inclusive --")
    for name, n in seen.most_common(args.top):
        print(f"{100 * n / total:5.1f}%  {name}")
    print("-- self --")
    for name, n in selfs.most_common(args.top // 2):
        print(f"{100 * n / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
