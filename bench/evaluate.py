"""Evaluate: our TFMA evaluator vs serving_default over the same raw records + NumPy accuracy.

Needs a finished run (the latest under --root) for its model and examples.

    python bench/evaluate.py [--root pipeline_root]
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import latest_summary, measure, report, variant_args  # noqa: E402


def ours(summary, out):
    from cli.config import load_config
    from components.evaluator.executor import run
    from pipeline.spec import ExecContext
    cfg = load_config("pipeline.yaml", [f"data.dataset={summary['dataset']}"])
    from components.evaluator.component import SPEC
    from pipeline.spec import Params
    ctx = ExecContext("bench", out, Params(SPEC.declared_params(cfg)), tuple(cfg.beam_args()),
                      os.path.join(out, "tmp"), component="evaluator")
    facts = run(ctx, {"model": summary["artifacts"]["model"], "examples": summary["artifacts"]["examples"]},
                {"evaluation": os.path.join(out, "ev"), "blessing": os.path.join(out, "bl")})
    return facts["examples"], facts["accuracy"]


def baseline(summary, out):
    import numpy as np

    from components.evaluator.gallery import predictions
    hits = [int(p.argmax()) == label for _, label, _, p in
            predictions(summary["artifacts"]["model"], summary["artifacts"]["examples"], summary["metrics"]["split"])]
    return len(hits), float(np.mean(hits))


def main():
    args = variant_args()
    if not args.variant:
        a = measure(__file__, "ours", "--root", args.root)
        b = measure(__file__, "baseline", "--root", args.root)
        assert abs(a["ACCURACY"] - b["ACCURACY"]) < 1e-6, (a, b)   # the same number, two ways
        report(f"evaluate ({int(a['ITEMS'])} examples, accuracy {a['ACCURACY']:.4f} both ways)", a, b, "<= 3x")
        return
    summary = latest_summary(args.root)
    import tensorflow_model_analysis  # noqa: F401  (imports are not part of the measured work)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        n, acc = (ours if args.variant == "ours" else baseline)(summary, out)
        print(f"SECONDS={time.perf_counter() - start:.3f}\nITEMS={n}\nACCURACY={acc:.6f}")


if __name__ == "__main__":
    main()
