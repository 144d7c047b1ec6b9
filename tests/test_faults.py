"""Fault injection (make test-faults): SIGKILL the pipeline at several points of each component, then
rerun. Nothing published may be partial or corrupt (verify), finished work is reused, and the final
records and metrics equal those of an uninterrupted run (deterministic trainer).

Each case starts from a copy of one finished reference root, so everything upstream of the killed
component is a cached execution and only that component (with --invalidate) is recomputed."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import results_of
from tests.test_e2e import REPO
from tests.test_runner import _cli

pytestmark = [pytest.mark.e2e, pytest.mark.faults]
DET = ["--set", "trainer.deterministic=true", "--set", "trainer.epochs=2", "--set", "trainer.checkpoint_steps=2"]
ORDER = ["ingest", "statistics", "transform", "validator", "trainer", "infra_validator", "evaluator", "pusher",
         "report"]
CASES = [("ingest", "start"), ("ingest", "mid"), ("statistics", "mid"), ("validator", "before_publish"),
         ("transform", "before_publish"), ("trainer", "mid"),
         ("trainer", "step3"), ("evaluator", "mid"), ("evaluator", "after_publish"), ("infra_validator", "mid"), ("pusher", "mid"),
         ("pusher", "before_publish"), ("report", "start"), ("report", "mid")]


def _summary(root, run_id=None):
    run_id = run_id or open(os.path.join(root, "runs", "latest")).read()
    return json.load(open(os.path.join(root, "runs", run_id, "summary.json")))


def _outcome(summary):
    ev = results_of(summary)
    return {"records": summary["records"], "split_digest": summary["split_digest"], "accuracy": ev["accuracy"],
            "slices": [(s["slice"], s["count"], s["accuracy"]) for s in ev["slices"]], "blessed": ev["blessed"],
            "confusion": ev["confusion"]}


@pytest.fixture(scope="module")
def dataset(module_dataset):
    """The tiny dataset and an uninterrupted reference run to compare every rerun with."""
    folder, tmp = module_dataset
    reference = _cli(folder, str(tmp / "reference"), *DET)
    assert reference.returncode == 0, reference.stderr[-2000:]
    return folder, tmp, _summary(str(tmp / "reference"))


@pytest.mark.parametrize("component, point", CASES, ids=[f"{c}-{p}" for c, p in CASES])
def test_kill_and_rerun(dataset, component, point):
    folder, tmp, reference = dataset
    root = str(tmp / f"{component}-{point}")
    shutil.copytree(tmp / "reference", root)   # seeded: the reference's executions are in its store
    again_args = (*DET, "--invalidate", component)
    killed = _cli(folder, root, *again_args, fault=f"{component}:{point}")
    assert killed.returncode == -9, killed.stderr[-2000:]
    (run_id,) = [d for d in os.listdir(os.path.join(root, "runs")) if d not in ("latest", reference["run_id"])]
    run_dir = os.path.join(root, "runs", run_id)
    if point != "after_publish":
        assert not os.path.exists(os.path.join(run_dir, component)), "a killed step published output"
    verify = subprocess.run([sys.executable, os.path.join(REPO, "tests", "run_tiny.py"), folder, "verify", run_id,
                             "--set", f"pipeline.root={root}"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert verify.returncode == 0, verify.stdout + verify.stderr        # what was published is intact

    again = _cli(folder, root, *again_args)
    assert again.returncode == 0, again.stderr[-2000:]
    summary = _summary(root)
    status = {n: c["status"] for n, c in summary["components"].items()}
    with open(os.path.join(run_dir, "summary.json")) as f:
        before_kill = {n: c["status"] for n, c in json.load(f)["components"].items()}
    for done in ORDER[:ORDER.index(component)]:
        if done in ("validator", "report"):                           # these two always run (cheap)
            continue
        if before_kill.get(done) in ("succeeded", "cached"):
            assert status[done] == "cached", (done, status)           # finished work is reused
        else:   # a background step (infra_validator beside the evaluator) that the kill may have cut short:
            # run again, or reused if it was recorded complete just before the kill reached its summary line
            assert status[done] in ("succeeded", "cached"), (done, before_kill, status)
    assert status[component] == "succeeded"                            # the killed step ran again
    if component == "trainer" and point.startswith("step"):
        facts = summary["components"]["trainer"]["facts"]              # resumed from the step-2 checkpoint
        assert facts["resumed_from_checkpoint"] is True and facts["resumed_after_batches"] == 2
        assert facts["steps_run"] < 2 * 6
    assert _outcome(summary) == _outcome(reference)                   # same records, same metrics
    serving = os.path.join(root, "serving", "tiny")                     # blessed (min_accuracy 0): pushed
    assert os.listdir(serving) and not [d for d in os.listdir(serving) if not d.isdigit()]  # nothing half-copied
