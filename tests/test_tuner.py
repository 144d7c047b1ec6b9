"""The tuner (components/tuner): its space checked in one line, the search (Optuna ask/tell, successive halving)
deterministic and resumable turn by turn, and the step in a real run on the tiny dataset: artifacts, the trainer
taking the chosen values, a kill mid-search and its rerun, failed trials, a search whose trials all fail.

    .venv/bin/python -m pytest -q tests/test_tuner.py
"""
import glob
import json
import os
import signal
import subprocess
import sys

import pytest

from cli.config import ConfigError, load_config
from components.tuner.executor import beam_args_for
from components.tuner.search import Search, SearchError, rungs
from components.tuner.space import distributions
from contract import artifacts as files
from pipeline.artifacts import read_file
from tests.test_e2e import REPO, tiny_overrides

SPACE = {"learning_rate": {"low": 0.001, "high": 0.01, "log": True}, "cell_size": {"choices": [16, 32]}}
DEFAULTS = {"learning_rate": 0.002, "cell_size": 128}


@pytest.mark.parametrize("setting, says", [
    ("tuner.space.cell_sise={choices: [16]}", "tuner.space.cell_sise: unknown trainer key; expected a key of the "
                                               "trainer section; did you mean 'tuner.space.cell_size'?"),
    ("tuner.space.dropout={low: 0.3, high: 0.1}", "tuner.space.dropout: got low 0.3, high 0.1; expected low < high"),
    ("tuner.space.batch_size={choices: [12.5]}", "tuner.space.batch_size: got 12.5 (float); expected a value of type int"),
    ("tuner.space.augment={low: 1, high: 2}", "tuner.space.augment: trainer.augment holds a str"),
    ("tuner.space.dropout={low: 0.0, high: 1.5}", "tuner.space.dropout: got 1.5; trainer.dropout expects 0 <= dropout < 1"),
    ("tuner.space.epochs={choices: [3]}", "tuner.space.epochs: the trial's budget or the machine decides it"),
    ("tuner.space.learning_rate={low: 0, high: 0.1, log: true}", "tuner.space.learning_rate.low: got 0"),
])
def test_an_invalid_space_is_one_line_naming_the_key(setting, says):
    with pytest.raises(ConfigError) as e:
        load_config(os.path.join(REPO, "pipeline.yaml"), [setting])
    assert str(e.value).startswith(says) and "\n" not in str(e.value)


def _scores(values: dict, epochs: int) -> float:
    """A stand-in for training: deterministic in the values, better with more epochs."""
    return round(1 - abs(values["learning_rate"] - 0.004) * 20 - (values["cell_size"] == 16) * 0.1 + epochs * 0.01, 6)


def _search(seed=7, recorded=lambda n: None, trials=9):
    return Search(distributions(SPACE, DEFAULTS), trials=trials, parallel=2, min_epochs=1, max_epochs=9, reduction=3,
                  seed=seed, recorded=recorded)


def _stand_in(log: list, stop_after: int | None = None):
    def run_round(turns):
        if stop_after is not None and len(log) >= stop_after:
            raise KeyboardInterrupt   # the pipeline killed between rounds
        log.append([(t.trial, t.rung) for t in turns])
        return {(t.trial, t.rung): {"status": "ok", "accuracy": _scores(t.values, t.end_epoch), "curve": [0.5],
                                    "seconds": 1.0, "worker": "w"} for t in turns}
    return run_round


def test_the_same_seed_proposes_the_same_trials_and_another_seed_others():
    a, b, c = _search(), _search(), _search(seed=8)
    ra, rb, rc = (s.run(_stand_in([])) for s in (a, b, c))
    values = lambda r: [t["values"] for t in r["trials"]]
    assert values(ra) == values(rb) and ra["best"] == rb["best"]
    assert values(ra) != values(rc)
    assert len(ra["trials"]) == 9 and rungs(1, 9, 3) == [1, 3, 9]
    status = [t["status"] for t in ra["trials"]]
    assert "stopped early" in status and "complete" in status   # successive halving stopped some
    best = ra["best"]
    assert best["status"] == "complete" and best["score"] == max(t["score"] for t in ra["trials"] if t["status"] == "complete")


def test_the_baseline_is_trial_zero_under_the_same_budget():
    result = _search(recorded=lambda n: None).run(_stand_in([]))
    with_base = Search(distributions(SPACE, DEFAULTS), trials=9, parallel=2, min_epochs=1, max_epochs=9, reduction=3,
                       seed=7, baseline={"learning_rate": 0.002, "cell_size": 32}).run(_stand_in([]))
    assert with_base["trials"][0]["values"] == {"learning_rate": 0.002, "cell_size": 32}
    assert result["trials"][0]["values"] != with_base["trials"][0]["values"]


def test_a_killed_search_resumes_and_runs_only_the_missing_turns():
    whole_log = []
    whole = _search().run(_stand_in(whole_log))
    first_log, asked = [], {}
    killed = _search()
    with pytest.raises(KeyboardInterrupt):
        killed.run(_stand_in(first_log, stop_after=2))
    asked = {n: r["values"] for n, r in killed.records.items()}
    done = {turn for rnd in first_log for turn in rnd}

    rerun_log = []
    inner = _stand_in(rerun_log)

    def run_round(turns):   # the executor's run_round: recorded turns are read, not run
        results = inner([t for t in turns if (t.trial, t.rung) not in done])
        return results | _stand_in([])([t for t in turns if (t.trial, t.rung) in done])
    resumed = _search(recorded=asked.get).run(run_round)
    assert resumed["trials"] == whole["trials"] and resumed["best"] == whole["best"]
    ran = {turn for rnd in rerun_log for turn in rnd}
    assert ran == {turn for rnd in whole_log for turn in rnd} - done and not ran & done


def test_failed_trials_are_recorded_and_all_failed_stops_in_one_line():
    def failing(turns):
        return {(t.trial, t.rung): {"status": "failed", "reason": "the loss became NaN or infinite in epoch 1",
                                    "curve": [], "seconds": 0.5, "worker": "w"} for t in turns}
    search = _search(trials=3)
    with pytest.raises(SearchError) as e:
        search.run(failing)
    assert str(e.value).startswith("tuner: all 3 trials failed; trial 0: the loss became NaN") and "\n" not in str(e.value)
    assert [r["status"] for r in search.records.values()] == ["failed"] * 3


def test_trials_run_in_worker_processes_on_the_in_process_runner_and_stage_by_stage_on_flink():
    assert beam_args_for(("--runner=FnApiRunner",), 2) == (
        "--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2")
    assert beam_args_for(("--runner=FnApiRunner",), 1) == ("--runner=FnApiRunner",)
    flink = ("--runner=FlinkRunner", "--parallelism=2")
    assert beam_args_for(flink, 2) == flink + ("--execution_mode_for_batch=BATCH_FORCED",)   # stage by stage
    assert beam_args_for(flink + ("--execution_mode_for_batch=PIPELINED",), 2)[-1].endswith("=PIPELINED")
    mp = ("--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=3")
    assert beam_args_for(mp, 2) == mp


# ---- the step in real runs on the tiny dataset -------------------------------------------------------------

TINY_TUNER = ["tuner.enabled=true", "tuner.trials=3", "tuner.parallel=2", "tuner.min_epochs=1", "tuner.max_epochs=2",
              "tuner.reduction=2", "tuner.space={learning_rate: {low: 0.003, high: 0.03, log: true}, "
              "cell_size: {choices: [8, 16]}}"]


def _cli(folder, root, *settings, fault=None):
    args = [sys.executable, os.path.join(REPO, "tests", "run_tiny.py"), folder, "run", "--config",
            os.path.join(REPO, "pipeline.yaml")]
    for kv in tiny_overrides(root, folder, ["trainer.epochs=1", *settings]):
        args += ["--set", kv]
    env = dict(os.environ, PIPELINE_FAULT=fault or "")
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


def _summary(root):
    return json.load(open(os.path.join(root, "runs", open(os.path.join(root, "runs", "latest")).read(), "summary.json")))


@pytest.mark.e2e
def test_the_tuner_in_a_run_killed_mid_search_then_rerun(module_dataset):
    folder, tmp = module_dataset
    root = str(tmp / "tuned")
    killed = _cli(folder, root, *TINY_TUNER, fault="tuner:mid")      # after the first round's Beam job
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    again = _cli(folder, root, *TINY_TUNER)
    assert again.returncode == 0, again.stderr[-3000:]
    summary = _summary(root)
    facts = summary["components"]["tuner"]["facts"]
    assert summary["components"]["tuner"]["status"] == "succeeded"
    # round 1 (trials 0 and 1, one epoch each) was kept; only the rest ran
    assert facts["turns_reused"] == 2 and facts["turns_run"] >= 1 and facts["trials"] == 3
    best = read_file(files.BEST_HYPERPARAMETERS, summary["artifacts"]["best_hyperparameters"])
    trials = read_file(files.TRIALS, summary["artifacts"]["trials"])["trials"]
    assert set(best["values"]) == {"learning_rate", "cell_size"} and best["defaults"]["cell_size"] == 16
    assert [t["number"] for t in trials] == [0, 1, 2]
    for t in trials:
        assert t["status"] in ("complete", "stopped early") and t["curve"] and t["seconds"] > 0 and t["workers"]
        assert len(t["curve"]) == (2 if t["status"] == "complete" else 1)
    assert best["score"] == max(t["score"] for t in trials if t["status"] == "complete")
    # the trainer trained with the chosen values, and says so; the report shows them
    trainer = summary["components"]["trainer"]["facts"]
    assert trainer["tuned"] == best["values"]
    html = open(summary["artifacts"]["report"]).read()   # the report.html a user opens
    assert 'id="tuning"' in html and 'id="trials"' in html and "<script" not in html
    assert f"Chosen: trial {best['trial']}" in html
    # an identical rerun takes the whole step from the cache
    third = _cli(folder, root, *TINY_TUNER)
    assert third.returncode == 0 and _summary(root)["components"]["tuner"]["status"] == "cached"


NAN = ["tuner.enabled=true", "tuner.trials=4", "tuner.min_epochs=2", "tuner.max_epochs=2", "trainer.lr_schedule=constant",
       "tuner.space={learning_rate: {choices: [9.9]}, batch_size: {choices: [8]}, weight_decay: {choices: [0.0, 0.9]}}"]


@pytest.mark.e2e
def test_a_trial_whose_loss_is_nan_fails_with_its_reason_and_all_failing_stops(module_dataset):
    folder, tmp = module_dataset
    root = str(tmp / "nan")
    mixed = _cli(folder, root, *NAN, "tuner.seed=3")
    assert mixed.returncode == 0, mixed.stderr[-3000:]
    trials = read_file(files.TRIALS, _summary(root)["artifacts"]["trials"])["trials"]
    failed = [t for t in trials if t["status"] == "failed"]
    assert failed and all(t["values"]["weight_decay"] == 0.9 for t in failed)
    assert all("NaN or infinite" in t["reason"] for t in failed)
    assert all(t["status"] == "complete" for t in trials if t["values"]["weight_decay"] == 0.0)

    every = _cli(folder, root, *NAN[:-1], "tuner.space={learning_rate: {choices: [9.9]}, batch_size: {choices: [8]}, "
                 "weight_decay: {choices: [0.9]}}")
    assert every.returncode == 2, every.stderr[-3000:]
    line = [ln for ln in every.stderr.splitlines() if ln.startswith("error:")]
    assert len(line) == 1 and "tuner: all 4 trials failed; trial 0: the loss became NaN" in line[0]
    (kept,) = glob.glob(os.path.join(root, "runs", "*", "evidence", "tuner"))   # the failed run's, for the user
    evidence = read_file(files.TRIALS, kept)["trials"]
    assert len(evidence) == 4 and {t["status"] for t in evidence} == {"failed"}


def _transformed(folder, n=64):
    """What the transform step hands the tuner, written directly: its schema and a few transformed records."""
    import numpy as np
    import tensorflow as tf
    meta = os.path.join(folder, "graph", "transformed_metadata")
    os.makedirs(meta)
    with open(os.path.join(meta, "schema.pbtxt"), "w") as f:
        f.write('feature { name: "label" type: INT presence { min_fraction: 1.0 } shape { } }\n'
                'feature { name: "pixels_xf" type: FLOAT presence { min_fraction: 1.0 } shape { dim { size: 784 } } }\n')
    rng = np.random.default_rng(0)
    for split in ("train", "eval"):
        os.makedirs(os.path.join(folder, "xf", f"Split-{split}"))
        with tf.io.TFRecordWriter(os.path.join(folder, "xf", f"Split-{split}", "part-0.tfrecord")) as w:
            for i in range(n):
                label = i % 2
                pixels = rng.random(784) * 0.2 + label * 0.5
                w.write(tf.train.Example(features=tf.train.Features(feature={
                    "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
                    "pixels_xf": tf.train.Feature(float_list=tf.train.FloatList(value=pixels))})).SerializeToString())
    return os.path.join(folder, "xf"), os.path.join(folder, "graph")


def test_run_trials_trains_each_turn_and_tags_the_failed(tmp_path):
    import dataclasses

    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from cli.config import config_type
    from components.tuner.transforms import FAILED, RunTrials
    xf, graph = _transformed(str(tmp_path))
    values = {**dataclasses.asdict(config_type()().trainer), "cell_size": 8, "batch_size": 16, "learning_rate": 0.01,
              "augment": "none", "precision": "float32", "seed": 1, "class_names": ["a", "b"], "mirror_invariant": False}
    task = lambda n, examples: {"trial": n, "rung": 0, "start_epoch": 0, "end_epoch": 2, "max_epochs": 2,
                                "values": values, "examples": examples, "transform_graph": graph, "train_records": 64,
                                "folder": str(tmp_path / f"trial-{n}"), "threads": 1}
    with TestPipeline(argv=["--runner=FnApiRunner"]) as p:
        out = p | beam.Create([task(0, xf), task(1, str(tmp_path / "nowhere"))]) | RunTrials()
        assert_that(out.done | beam.Map(lambda r: (r["trial"], r["status"], len(r["curve"]))), equal_to([(0, "ok", 2)]),
                    label="TrainedTwoEpochs")
        assert_that(out[FAILED] | beam.Map(lambda r: (r["trial"], r["reason"].split(":")[0])),
                    equal_to([(1, "FileNotFoundError")]), label="MissingDataFails")
    assert os.path.exists(tmp_path / "trial-0" / "rung-0.json")
    assert os.path.exists(tmp_path / "trial-0" / "checkpoint" / "turn-0.index")


def test_the_report_and_compare_show_the_tuning():
    from cli.compare import tuned_values
    from components.report.tuning_section import render_tuning
    trial = lambda n, status, score, curve: {"number": n, "values": {"cell_size": 32 + n, "learning_rate": 0.004},
                                             "status": status, "reason": "" if status == "complete" else "why",
                                             "score": score, "curve": curve, "seconds": 2.5, "workers": ["vm:1"]}
    tuning = {"best_hyperparameters": {"values": {"cell_size": 33, "learning_rate": 0.004}, "trial": 1, "score": 0.9,
                                       "defaults": {"cell_size": 128, "learning_rate": 0.002}},
              "trials": {"trials": [trial(0, "stopped early", 0.5, [0.5]), trial(1, "complete", 0.9, [0.6, 0.9]),
                                    trial(2, "failed", None, [])],
                         "best_so_far": [{"trial": 0, "best": 0.5}, {"trial": 2, "best": 0.5}, {"trial": 1, "best": 0.9}],
                         "rungs": [1, 2], "best": 1}}
    html = render_tuning(tuning)
    rows = html.split('id="trials"')[1].split("<tr>")[2:]
    assert [r.split("<td>")[1].split("</td>")[0] for r in rows] == ["<b>1</b>", "0", "2"]   # best first, failed last
    assert "failed: why" in html and "<svg" in html and "128" in html and "<b>33</b>" in html
    run = lambda tuned, lr: {"metrics": {"tuning": tuned, "config_flat": {"trainer.cell_size": 128,
                                                                         "trainer.learning_rate": lr}}}
    assert tuned_values(run(tuning, 0.002), run(None, 0.003)) == [("cell_size", "33 (tuned)", "128"),
                                                                   ("learning_rate", "0.004 (tuned)", "0.003")]
