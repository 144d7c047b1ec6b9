"""InfraValidator executor: serve the canary records from the SavedModel alone, in a clean process.

    python -m pipeline run    # runs beside the evaluator, before the pusher; see README "Serving check"
"""
from __future__ import annotations

import heapq
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import tensorflow as tf

from contract import artifacts as files
from contract.records import IMAGE_ID, canary_rank, evaluated_split, split_pattern
from pipeline.artifacts import join, write_file

log = logging.getLogger(__name__)
PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe.py")
# What the clean process keeps of this one's environment: the basics, and what a storage client needs to
# read a model from gs:// (credentials, project, metadata server, proxy and CA; TensorFlow's GCS_* tuning;
# an emulator's address in tests). Nothing that would let it import the pipeline's code.
KEEP_ENV = ("PATH", "HOME", "LANG", "TMPDIR", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT",
            "CLOUDSDK_CONFIG", "NO_GCE_CHECK", "GCE_METADATA_HOST", "GCE_METADATA_IP", "GOOGLE_AUTH_TOKEN_FOR_TESTING",
            "CURL_CA_BUNDLE", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY", "STORAGE_EMULATOR_HOST")


def canary_records(examples_dir: str, split: str, size: int) -> tuple[list[str], list[bytes]]:
    """(ids, serialized raw records) of the `size` records of the split with the lowest canary_rank (those
    the evaluator records its predictions for), in id order."""
    chosen = []   # a bounded heap of (-rank, image_id, record)
    files = sorted(tf.io.gfile.glob(split_pattern(examples_dir, split)))
    for batch in tf.data.TFRecordDataset(files).batch(256):   # small: this runs beside the evaluator
        got = tf.io.parse_sequence_example(batch, context_features={IMAGE_ID: tf.io.FixedLenFeature([], tf.string)})
        for record, image_id in zip(batch.numpy(), got[0][IMAGE_ID].numpy()):
            item = (-canary_rank(image_id.decode()), image_id.decode(), record)
            (heapq.heappush if len(chosen) < size else heapq.heappushpop)(chosen, item)
    if not chosen:
        raise RuntimeError(f"{examples_dir}/Split-{split}: no records to send as canaries")
    chosen.sort(key=lambda t: t[1])
    return [c[1] for c in chosen], [c[2] for c in chosen]


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
            model = model_dir if "://" in model_dir else os.path.abspath(model_dir)
            json.dump({"model": model, "records": data, "batch_size": batch_size,
                       "repeats": repeats, "out": out}, f)
        env = {k: v for k, v in os.environ.items() if k in KEEP_ENV or k.startswith("GCS_")}
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


def judge(ids: list[str], result: dict) -> list[str]:
    """Reasons to refuse the model: the probe's error, or not one answer per canary. (Whether the answers
    are the evaluator's classes is the pusher's check: the evaluator runs beside this step.)"""
    if "error" in result:
        return [result["error"]]
    if len(result["classes"]) != len(ids):
        return [f"served {len(result['classes'])} answers for {len(ids)} canary requests"]
    return []


def run(ctx, inputs, outputs) -> dict:
    p = ctx.params
    split = evaluated_split(inputs["examples"], p.split)
    ids, records = canary_records(inputs["examples"], split, p.canaries)
    result = probe(inputs["model"], records, p.batch_size, p.repeats, p.timeout_s)
    reasons = judge(ids, result)
    latency = result.get("latency_ms") or []
    served = result.get("classes") or []
    verdict = {"blessed": not reasons, "reasons": reasons, "canaries": len(ids), "split": split,
               "served": [{"image_id": i, "class": c} for i, c in zip(ids, served)],
               "batch_size": p.batch_size, "requests_timed": len(latency),
               "latency_ms": {"p50": round(float(np.percentile(latency, 50)), 3),
                              "p99": round(float(np.percentile(latency, 99)), 3)} if latency else None,
               "signature": result.get("signature"), "tensorflow": result.get("tensorflow")}
    ctx.fault_point("mid")
    out = outputs["infra_blessing"]
    tf.io.gfile.makedirs(out)
    write_file(files.INFRA_BLESSING, out, verdict)
    with tf.io.gfile.GFile(join(out, "INFRA_BLESSED" if verdict["blessed"] else "INFRA_NOT_BLESSED"), "w") as f:
        f.write("\n".join(reasons))
    (log.info if verdict["blessed"] else log.warning)("serving check: %s%s", "passed" if verdict["blessed"] else
                                                      "FAILED: ", "; ".join(reasons))
    return {k: verdict[k] for k in ("blessed", "reasons", "canaries", "latency_ms")}
