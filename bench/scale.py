"""Cost against data size: 7k, 70k and 700k images through the whole pipeline (training capped to a fixed
number of steps so it does not dominate), wall per step and peak memory per step, plus a PNG plot.

The sizes come from Fashion-MNIST (Debian's dataset-fashion-mnist): 7k is its first 6,000 train and 1,000
test images, 70k all of it, 700k all of it ten times, each copy shifted by a different (dx, dy) of at most
two pixels (deterministic; written by this script under build/scale/, never committed). Each size runs
cold in a fresh pipeline root, in its own process; the step boundaries come from the console's lines and
the memory from sampling that process's RSS (and its children's) every 0.1 s.

    python bench/scale.py [--sizes 7000,70000,700000] [--steps 20]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from bench.harness import STEPS, cpu_flags, record, verdict  # noqa: E402

OUT = os.path.join(REPO, "build", "scale")
SHIFTS = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1), (1, -1), (-1, 1), (2, 0)]


def _fashion():
    from cli.config import load_config
    from data.acquire import acquire
    from data.idx import read_idx_pair
    src = acquire(load_config(os.path.join(REPO, "pipeline.yaml"), ["data.dataset=fashion_mnist"]).data)
    train = read_idx_pair(src.files["train_images"], src.files["train_labels"])
    test = read_idx_pair(src.files["test_images"], src.files["test_labels"])
    return train, test


def _write(folder: str, train, test) -> None:
    """The four IDX .gz files, written a slice at a time (gzip level 1: the bench is not about gzip)."""
    import gzip
    import struct
    os.makedirs(folder, exist_ok=True)
    for prefix, (images, labels) in (("train", train), ("t10k", test)):
        for kind, parts in (("images-idx3", images), ("labels-idx1", labels)):
            n = sum(len(p) for p in parts)
            ndim = parts[0].ndim
            header = struct.pack(">HBB", 0, 8, ndim) + struct.pack(f">{ndim}I", n, *parts[0].shape[1:])
            with gzip.open(os.path.join(folder, f"{prefix}-{kind}-ubyte.gz"), "wb", compresslevel=1) as f:
                f.write(header)
                for p in parts:
                    f.write(np.ascontiguousarray(p, np.uint8).tobytes())


def _shifted(images: np.ndarray, dx: int, dy: int) -> np.ndarray:
    out = np.zeros_like(images)
    h, w = images.shape[1:]
    src = images[:, max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    out[:, max(0, dy):max(0, dy) + src.shape[1], max(0, dx):max(0, dx) + src.shape[2]] = src
    return out


def make_datasets(sizes) -> dict:
    (ti, tl), (si, sl) = _fashion()
    made = {}
    for size in sizes:
        folder = os.path.join(OUT, f"data-{size}")
        made[size] = folder
        if os.path.exists(os.path.join(folder, "t10k-labels-idx1-ubyte.gz")):
            continue
        copies = max(1, size // 70000)
        if size < 70000:
            n_train, n_test = size * 6 // 7, size // 7
            _write(folder, ([ti[:n_train]], [tl[:n_train]]), ([si[:n_test]], [sl[:n_test]]))
        else:
            _write(folder, ([_shifted(ti, *s) for s in SHIFTS[:copies]], [tl] * copies),
                   ([_shifted(si, *s) for s in SHIFTS[:copies]], [sl] * copies))
    return made


def _rss_kb(pid: int) -> int:
    """RSS of a process and all its descendants (the serving check's probe is a child). A child belongs
    to the thread that started it (/proc/P/task/T/children): the probe's is the background step's thread,
    so every thread's children are counted, not only the main thread's."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, StopIteration):
            continue
    return total


def run_size(size: int, folder: str, steps: int) -> dict:
    root = os.path.join(OUT, f"root-{size}")
    shutil.rmtree(root, ignore_errors=True)
    config = os.path.join(OUT, f"pipeline-{size}.yaml")
    import yaml
    base = yaml.safe_load(open(os.path.join(REPO, "pipeline.yaml")))
    base["data"].setdefault("datasets", {})[f"scale{size}"] = {
        "format": "idx", "path": folder, "class_names": ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal",
                                                         "shirt", "sneaker", "bag", "boot"]}
    with open(config, "w") as f:
        yaml.safe_dump(base, f)
    cmd = [sys.executable, "-m", "pipeline", "run", "--config", config, "--set", f"data.dataset=scale{size}",
           "--set", f"pipeline.root={root}", "--set", "trainer.epochs=1", "--set", f"trainer.steps_per_epoch={steps}",
           "--set", "trainer.max_steps=null", "--set", "trainer.early_stopping=null",
           "--set", "evaluator.min_accuracy=0.0", "--set", f"validation.expectations={root}/expectations.yaml"]
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    state = {"step": "startup", "peak": {}, "done": False}

    def sample():
        while not state["done"]:
            kb = _rss_kb(proc.pid)
            state["peak"][state["step"]] = max(state["peak"].get(state["step"], 0), kb)
            time.sleep(0.1)
    threading.Thread(target=sample, daemon=True).start()
    start = time.perf_counter()
    for line in proc.stdout:
        words = line.split()
        if len(words) >= 2 and words[0] in STEPS and words[1] == "started":
            state["step"] = words[0]
    proc.wait()
    wall = time.perf_counter() - start
    state["done"] = True
    if proc.returncode:
        raise SystemExit(f"size {size}: the run failed (exit {proc.returncode}); see {root}/runs/*/logs/")
    run_id = open(os.path.join(root, "runs", "latest")).read().strip()
    summary = json.load(open(os.path.join(root, "runs", run_id, "summary.json")))
    seconds = {n: c.get("seconds", 0.0) for n, c in summary["components"].items()}
    return {"size": size, "wall": wall, "records": summary["records"], "seconds": seconds,
            "peak_gb": {k: v / 1024 / 1024 for k, v in state["peak"].items()}}




def plot(results: list[dict], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sizes = [r["size"] for r in results]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for step in ("ingest", "statistics", "transform", "trainer", "evaluator"):
        a.plot(sizes, [r["seconds"].get(step, 0) for r in results], marker="o", label=step)
        b.plot(sizes, [r["peak_gb"].get(step, 0) for r in results], marker="o", label=step)
    first = results[0]["seconds"]["ingest"]
    a.plot(sizes, [first * s / sizes[0] for s in sizes], "k:", label="linear from ingest's first size")
    for ax, title in ((a, "wall per step (s)"), (b, "peak RSS per step (GB)")):
        ax.set_xscale("log")
        ax.set_xlabel("images")
        ax.set_title(title)
        ax.legend(fontsize=8)
    a.set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="7000,70000,700000")
    parser.add_argument("--steps", type=int, default=20, help="training steps at every size")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"scaling curve: {', '.join(f'{s:,}' for s in sizes)} images; trainer capped at {args.steps} steps; "
          f"CPU: {cpu_flags()}")
    folders = make_datasets(sizes)
    results = [run_size(s, folders[s], args.steps) for s in sizes]
    steps = ("ingest", "statistics", "transform", "trainer", "evaluator", "report")
    print(f"\n{'images':>9} {'run wall':>9} " + " ".join(f"{s[:10]:>10}" for s in steps) + "   peak GB (whole run)")
    for r in results:
        print(f"{r['size']:>9,} {r['wall']:8.1f}s " + " ".join(f"{r['seconds'].get(s, 0):9.1f}s" for s in steps)
              + f"   {max(r['peak_gb'].values()):.2f}")
    print(f"\n{'images':>9} " + " ".join(f"{s[:10]:>10}" for s in steps) + "   (peak RSS per step, GB)")
    for r in results:
        print(f"{r['size']:>9,} " + " ".join(f"{r['peak_gb'].get(s, 0):9.2f} " for s in steps))
    by = {r["size"]: r for r in results}
    if 70000 in by and 700000 in by:
        big, mid = by[700000], by[70000]
        mem = max(big["peak_gb"].values()) / max(mid["peak_gb"].values())
        print(f"\npeak memory 700k / 70k: {mem:.2f}x (goal <= 1.2x)")
        record("scale.py", f"peak 700k / 70k (the run's processes together): {mem:.2f}x", verdict("<= 1.2x", mem))
        walls = {s: big["seconds"][s] / mid["seconds"][s] for s in ("ingest", "statistics", "transform", "evaluator")}
        for s, ratio in walls.items():
            print(f"wall {s} 700k / 70k: {ratio:.1f}x (goal <= 11x)")
        record("scale.py", "wall 700k / 70k per Beam step: " + ", ".join(f"{s} {r:.1f}x" for s, r in walls.items()),
               verdict("<= 11x", max(walls.values())))
    png = os.path.join(OUT, "scaling.png")
    plot(results, png)
    with open(os.path.join(OUT, "scaling.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(f"plot: {png}")


if __name__ == "__main__":
    main()
