"""Summarise a py-spy raw profile: where the samples of every thread go, by inclusive share.

    py-spy record -r 50 -f raw -o /tmp/eval.raw -- python bench/evaluate.py --variant ours
    python bench/profile_summary.py /tmp/eval.raw [--top 25] [--match tensorflow_model_analysis]

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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("raw")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", default=None, help="only frames whose file path contains this")
    args = parser.parse_args()
    stacks = load(args.raw)
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
