"""InfraValidator executor: replay the evaluator's canaries against the SavedModel in a clean process.

    python -m pipeline run    # runs between the evaluator and the pusher; see README "Serving check"
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import tensorflow as tf

from contract.records import IMAGE_ID
from pipeline.artifacts import join, read_json, write_json

log = logging.getLogger(__name__)
PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe.py")


def canary_records(examples_dir: str, split: str, ids: list[str]) -> list[bytes]:
    """The serialized raw records with these ids, in the order of ids."""
    wanted, found = set(ids), {}
    files = sorted(tf.io.gfile.glob(join(examples_dir, f"Split-{split}", "*")))
    for batch in tf.data.TFRecordDataset(files).batch(4096):
        got = tf.io.parse_sequence_example(batch, context_features={IMAGE_ID: tf.io.FixedLenFeature([], tf.string)})
        for record, image_id in zip(batch.numpy(), got[0][IMAGE_ID].numpy()):
            if image_id.decode() in wanted:
                found[image_id.decode()] = record
    missing = [i for i in ids if i not in found]
    if missing:
        raise RuntimeError(f"{examples_dir}/Split-{split}: canary records {missing[:3]} not found")
    return [found[i] for i in ids]


def probe(model_dir: str, records: list[bytes], batch_size: int, repeats: int, timeout_s: float) -> dict:
    """Serve the records from model_dir in a clean `python -I` process; its result, or {'error': why}."""
    with tempfile.TemporaryDirectory(prefix="infra-") as tmp:
        script, data, out = (os.path.join(tmp, n) for n in ("probe.py", "canaries.tfrecord", "result.json"))
        shutil.copy(PROBE, script)   # run from an empty folder: nothing beside it to import
        with tf.io.TFRecordWriter(data) as w:
            for r in records:
                w.write(r)
        request = os.path.join(tmp, "request.json")
        with open(request, "w") as f:
            json.dump({"model": os.path.abspath(model_dir), "records": data, "batch_size": batch_size,
                       "repeats": repeats, "out": out}, f)
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        env["TF_CPP_MIN_LOG_LEVEL"] = "2"
        try:
            done = subprocess.run([sys.executable, "-I", script, request], cwd=tmp, env=env, capture_output=True,
                                  text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return {"error": f"the serving process did not answer within {timeout_s:g} s"}
        if done.returncode != 0 or not os.path.exists(out):
            lines = [ln for ln in (done.stderr or "").strip().splitlines() if ln.strip()]
            return {"error": f"the serving process failed (exit {done.returncode}): "
                             f"{lines[-1] if lines else 'no message'}"}
        with open(out) as f:
            return json.load(f)


def judge(canaries: list[dict], result: dict) -> list[str]:
    """Reasons to refuse the model: the probe's error, or canaries whose served class differs."""
    if "error" in result:
        return [result["error"]]
    served = result["classes"]
    if len(served) != len(canaries):
        return [f"served {len(served)} answers for {len(canaries)} canary requests"]
    wrong = [f"{c['image_id']}: served class {s}, the evaluator predicted {c['predicted']}"
             for c, s in zip(canaries, served) if s != c["predicted"]]
    return ([f"{len(wrong)} of {len(canaries)} canaries served a different class than evaluated, e.g. "
             + "; ".join(wrong[:3])] if wrong else [])


def run(ctx, inputs, outputs) -> dict:
    p = ctx.params
    plan = read_json(join(inputs["evaluation"], "canaries.json"))
    canaries = plan["canaries"][:p.canaries]
    records = canary_records(inputs["examples"], plan["split"], [c["image_id"] for c in canaries])
    result = probe(inputs["model"], records, p.batch_size, p.repeats, p.timeout_s)
    reasons = judge(canaries, result) if canaries else ["the evaluator recorded no canary predictions"]
    latency = result.get("latency_ms") or []
    verdict = {"blessed": not reasons, "reasons": reasons, "canaries": len(canaries), "split": plan["split"],
               "batch_size": p.batch_size, "requests_timed": len(latency),
               "latency_ms": {"p50": round(float(np.percentile(latency, 50)), 3),
                              "p99": round(float(np.percentile(latency, 99)), 3)} if latency else None,
               "signature": result.get("signature"), "tensorflow": result.get("tensorflow")}
    ctx.fault_point("mid")
    out = outputs["infra_blessing"]
    tf.io.gfile.makedirs(out)
    write_json(join(out, "infra_blessing.json"), verdict)
    with tf.io.gfile.GFile(join(out, "INFRA_BLESSED" if verdict["blessed"] else "INFRA_NOT_BLESSED"), "w") as f:
        f.write("\n".join(reasons))
    (log.info if verdict["blessed"] else log.warning)("serving check: %s%s", "passed" if verdict["blessed"] else
                                                      "FAILED: ", "; ".join(reasons))
    return {k: verdict[k] for k in ("blessed", "reasons", "canaries", "latency_ms")}
