"""What each piece of the runner's machinery saves on the e2e run (bench/e2e.py's command: 70k Fashion-MNIST,
1 epoch, cold): each variant beside a run of the default runner, alternating, in one process tree:

- `teardown`: without pipeline/shutdown.py's exit (sys.exit: the interpreter's teardown of the libraries)
- `isolated`: without pipeline/isolated.py's child processes for ingest and statistics (every step in line)
- `trim`:     with glibc's malloc_trim after each step, as pipeline/memory.py did until this bench measured
              it on 2026-12-04 (peak 1.00 GB with it, 1.01 without, the wall within its noise: removed)

Prints each variant's wall, its wall less the trainer (model.fit's time moves by 10-20 s between identical
runs, which hides a gain of 8 s in the wall), peak RSS and time outside the steps, and its difference from
the default run beside it, with the CPU flags and the host's steal. The switches are applied by this script
(monkeypatching the pipeline in a wrapper process); nothing in the pipeline reads them.

    python bench/machinery.py --rounds 2      # make bench runs it
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from bench.e2e import run_command  # noqa: E402
from bench.harness import STEPS, cpu_flags, cpu_ticks, latest_summary, record, stolen_share  # noqa: E402

OFF = {
    "default": "pass",
    "trim": "import ctypes, pipeline.runner as r; trim = ctypes.CDLL('libc.so.6').malloc_trim; "
            "discard = r.af.discard; r.af.discard = lambda p: (discard(p), trim(0))[0]",
    "teardown": "import pipeline.shutdown as s; s.end_process = lambda code: sys.exit(s.exit_status(code))",
    "isolated": "import dataclasses, pipeline.runner as r; "
                "r.placed = lambda specs, args: [dataclasses.replace(x, process=False) for x in specs]",
}
LABEL = {"teardown": "with the teardown", "isolated": "every step in line", "trim": "with malloc_trim"}
# in line: the steps whose time is on the wall's path (statistics and the serving check run beside others)
BESIDE = ("statistics", "infra_validator")


def run(variant: str, root: str) -> dict:
    args = run_command("fashion_mnist", root)[3:]        # after `python -m pipeline`
    wrapper = (f"import sys, runpy; {OFF[variant]}; sys.argv = ['pipeline', *{args!r}]; "
               "runpy.run_module('pipeline', run_name='__main__')")
    ticks = cpu_ticks()
    proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", wrapper], cwd=REPO, capture_output=True,
                          text=True)
    if proc.returncode:
        raise SystemExit(f"{variant}: {proc.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", proc.stderr).group(1)
    seconds = sum(float(p) * 60 ** i for i, p in enumerate(reversed(wall.split(":"))))
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1)) / 1024 ** 2
    summary = latest_summary(root)
    steps = {n: summary["components"][n].get("seconds", 0.0) for n in STEPS}
    outside = seconds - sum(s for n, s in steps.items() if n not in BESIDE)
    # model.fit's time on two cores moves by 10-20 s between identical runs, and no switch here touches it
    return {"wall": seconds, "peak": peak, "outside": outside, "stolen": stolen_share(ticks),
            "untrained": seconds - steps["trainer"],
            "accuracy": summary["metrics"]["accuracy"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=[v for v in OFF if v != "default"])
    args = parser.parse_args()
    print(f"machinery on the e2e run; {cpu_flags()}")
    os.makedirs(os.path.join(REPO, "build"), exist_ok=True)
    for r in range(args.rounds):
        for variant in args.only:
            pair = {}
            for name in ("default", variant):     # each switch beside a default run of the same minute
                root = tempfile.mkdtemp(prefix=f"machinery_{name}_", dir=os.path.join(REPO, "build"))
                try:
                    pair[name] = run(name, root)
                finally:
                    shutil.rmtree(root, ignore_errors=True)
            d, v = pair["default"], pair[variant]
            print(f"round {r + 1}, {LABEL[variant]}: wall {v['wall']:.1f} s against {d['wall']:.1f} s "
                  f"({v['wall'] - d['wall']:+.1f}); less the trainer {v['untrained']:.1f} against {d['untrained']:.1f} s "
                  f"({v['untrained'] - d['untrained']:+.1f}); peak {v['peak']:.2f} against {d['peak']:.2f} GB "
                  f"({v['peak'] - d['peak']:+.2f}); outside the steps {v['outside']:.1f} against {d['outside']:.1f} s "
                  f"({v['outside'] - d['outside']:+.1f}); accuracy {v['accuracy']:.4f} / {d['accuracy']:.4f}; "
                  f"{100 * max(v['stolen'], d['stolen']):.0f}% stolen", flush=True)
            record("machinery.py", f"{LABEL[variant]}: wall {v['wall'] - d['wall']:+.1f} s (less the trainer "
                   f"{v['untrained'] - d['untrained']:+.1f} s), peak {v['peak'] - d['peak']:+.2f} GB, "
                   f"outside the steps {v['outside'] - d['outside']:+.1f} s (against the default beside it)",
                   "keep what saves something (+: the default saves it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
