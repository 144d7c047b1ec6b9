"""Pusher executor: copy a blessed model to <serving_dir>/<version>/ (a TF Serving model base path), never
overwriting, with no half-copied version a model server could load (see push()).
"""
from __future__ import annotations

import logging
import os
import time
import uuid

from contract import artifacts as files
from pipeline import fs
from pipeline.artifacts import read_file, write_file

log = logging.getLogger(__name__)
LAST = "saved_model.pb"


def serving_dir(ctx) -> str:
    return ctx.params.serving_dir or fs.join(ctx.params.root, "serving", ctx.params.dataset)


def next_version(names: list[str]) -> int:
    """A version number above every pushed one (names: the serving folder's entries) and not below now."""
    return max([int(time.time())] + [int(v) + 1 for v in names if v.isdigit()])


def _sweep(root: str) -> list[str]:
    """Remove what a killed push left: a local .tmp- folder, or on an object store a version folder without
    saved_model.pb (copied last, so its absence means the copy never finished). Return what is left."""
    kept = []
    for name in fs.listdir(root):
        if name.startswith(".tmp-") or (fs.is_remote(root) and name.isdigit()
                                         and not fs.exists(fs.join(root, name, LAST))):
            log.warning("removing %s, left by a push that did not finish", fs.join(root, name))
            fs.rmtree(fs.join(root, name))
        else:
            kept.append(name)
    return kept


def push(model_dir: str, root: str, midway=lambda: None) -> tuple[int, str]:
    """Copy model_dir to root/<version>; return (version, path).

    Locally the copy is assembled in a hidden folder and renamed into place in one step. An object store has
    no folder rename: the objects are copied into the version folder directly, saved_model.pb last, so a model
    server finds a loadable version only once every file is in place (and a killed push is removed by the
    next one). midway() is called halfway (a fault point for tests)."""
    fs.makedirs(root)
    version = next_version(_sweep(root))   # one listing serves both
    final = fs.join(root, str(version))
    if fs.exists(final):
        raise FileExistsError(f"{final}: version already exists; the pusher never overwrites a pushed model")
    remote = fs.is_remote(root)
    target = final if remote else fs.join(root, f".tmp-{version}-{uuid.uuid4().hex[:6]}")
    files = sorted((rel for rel, _ in fs.walk_files(model_dir)), key=lambda r: r == LAST)  # saved_model.pb last
    try:
        for n, rel in enumerate(files):
            if n == len(files) // 2:
                midway()
            fs.makedirs(os.path.dirname(fs.join(target, rel)))
            fs.copy(fs.join(model_dir, rel), fs.join(target, rel))
        if not remote:
            fs.rename(target, final)
    finally:
        if not remote:
            fs.rmtree(target)
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
    verdict = read_file(files.BLESSING, inputs["blessing"])
    serving = read_file(files.INFRA_BLESSING, inputs["infra_blessing"])
    if serving["blessed"]:   # it served every canary; are they the evaluated classes?
        reasons = served_as_evaluated(read_file(files.CANARIES, inputs["evaluation"])["canaries"],
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
                    f" (and {len(reasons) - 2} more: the report)" if len(reasons) > 2 else "")
    else:
        version, path = push(inputs["model"], serving_dir(ctx), midway=lambda: ctx.fault_point("mid"))
        record = {"pushed": True, "version": version, "path": path, "serving_check": check}
        log.info("pushed the model as version %s: %s", version, path)
    write_file(files.PUSH, outputs["pushed"], record)
    if record["pushed"]:
        ctx.external_outputs["pushed_model"] = record["path"]   # outside the run folder, still in the lineage
    return record
