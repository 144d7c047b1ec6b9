"""Pusher executor: copy a blessed model to <serving_dir>/<version>/, atomically, never overwriting.

The copy is assembled in a hidden sibling folder (model servers such as TF Serving only load numeric
version folders), with saved_model.pb written last, then renamed to its version number in one step.
"""
from __future__ import annotations

import logging
import os
import time
import uuid

from pipeline import fs
from pipeline.artifacts import read_json, write_json

log = logging.getLogger(__name__)
LAST = "saved_model.pb"


def serving_dir(ctx) -> str:
    return ctx.params.serving_dir or fs.join(ctx.params.root, "serving", ctx.params.dataset)


def next_version(root: str) -> int:
    existing = [int(d) for d in (os.listdir(root) if fs.exists(root) and not fs.is_remote(root) else []) if d.isdigit()]
    return max([int(time.time())] + [v + 1 for v in existing])


def push(model_dir: str, root: str, before_rename=lambda: None) -> tuple[int, str]:
    """Copy model_dir to root/<version>; return (version, path)."""
    fs.makedirs(root)
    if not fs.is_remote(root):  # leftovers of a push that was killed: never visible to a server, remove
        for stale in (d for d in os.listdir(root) if d.startswith(".tmp-")):
            fs.rmtree(fs.join(root, stale))
    version = next_version(root)
    final = fs.join(root, str(version))
    if fs.exists(final):
        raise FileExistsError(f"{final}: version already exists; the pusher never overwrites a pushed model")
    tmp = fs.join(root, f".tmp-{version}-{uuid.uuid4().hex[:6]}")
    files = [rel for rel, _ in fs.walk_files(model_dir)]
    try:
        for rel in sorted(files, key=lambda r: r == LAST):  # saved_model.pb lands last
            fs.makedirs(os.path.dirname(fs.join(tmp, rel)))
            fs.copy(fs.join(model_dir, rel), fs.join(tmp, rel))
        before_rename()
        fs.rename(tmp, final)
    finally:
        fs.rmtree(tmp)
    return version, final


def served_as_evaluated(canaries: list[dict], served: list[dict]) -> list[str]:
    """Reasons to refuse: canaries the serving check did not serve, or served another class than the
    evaluator predicted (the two ran side by side on the same records; see contract.records.canary_rank)."""
    answers = {s["image_id"]: s["class"] for s in served}
    if not canaries:
        return ["the evaluator recorded no canary predictions"]
    missing = [c["image_id"] for c in canaries if c["image_id"] not in answers]
    if missing:
        return [f"the serving check did not serve {len(missing)} of the {len(canaries)} evaluated canaries, "
                f"e.g. {missing[0]}"]
    wrong = [f"{c['image_id']}: served class {answers[c['image_id']]}, the evaluator predicted {c['predicted']}"
             for c in canaries if answers[c["image_id"]] != c["predicted"]]
    return ([f"{len(wrong)} of {len(canaries)} canaries served a different class than evaluated, e.g. "
             + "; ".join(wrong[:3])] if wrong else [])


def run(ctx, inputs, outputs) -> dict:
    verdict = read_json(fs.join(inputs["blessing"], "blessing.json"))
    serving = read_json(fs.join(inputs["infra_blessing"], "infra_blessing.json"))
    if serving["blessed"]:   # it served every canary; are they the evaluated classes?
        reasons = served_as_evaluated(read_json(fs.join(inputs["evaluation"], "canaries.json"))["canaries"],
                                      serving["served"])
        serving = {**serving, "blessed": not reasons, "reasons": reasons}
    check = {"blessed": serving["blessed"], "reasons": serving["reasons"]}   # the serving check's last word
    fs.makedirs(outputs["pushed"])
    if not verdict["blessed"] or not serving["blessed"]:
        why = ("the model is not blessed: " + "; ".join(verdict["reasons"]) if not verdict["blessed"] else
               "the model failed the serving check: " + "; ".join(serving["reasons"]))
        record = {"pushed": False, "reason": why, "serving_check": check}
        reasons = verdict["reasons"] if not verdict["blessed"] else serving["reasons"]
        log.warning("not pushed: %s%s", why.split(": ", 1)[0] + ": " + "; ".join(reasons[:2]),
                    f" (and {len(reasons) - 2} more: push.json, the report)" if len(reasons) > 2 else "")
    else:
        version, path = push(inputs["model"], serving_dir(ctx), before_rename=lambda: ctx.fault_point("mid"))
        record = {"pushed": True, "version": version, "path": path, "serving_check": check}
        log.info("pushed the model as version %s: %s", version, path)
    write_json(fs.join(outputs["pushed"], "push.json"), record)
    if record["pushed"]:
        ctx.external_outputs["pushed_model"] = record["path"]   # outside the run folder, still in the lineage
    return record
