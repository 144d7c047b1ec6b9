"""The search, on the driver: Optuna's ask/tell with its TPE sampler and successive-halving pruner, in rounds.

A round is at most `parallel` trial turns run at once (one Beam job, run_round): trials that earned another
rung first, then new trials asked for. After each round the driver tells Optuna each turn's eval accuracy, and
the pruner decides which trials stop early and which go on, from their own checkpoint, to the next rung's
budget (min_epochs, min_epochs * reduction, ... up to max_epochs). The sampler is seeded per trial number, so
the proposals depend only on the seed and the results before them: a rerun of a killed search replays the
recorded turns (run_round finds their results) to the same state, and runs only what is missing.

    from components.tuner.search import Search   # tests/test_tuner.py drives one with a stand-in run_round
"""
from __future__ import annotations

import collections
import dataclasses
from typing import Callable

from contract.errors import PipelineError


class SearchError(PipelineError):
    """No trial of the search finished: nothing to choose from."""


@dataclasses.dataclass(frozen=True)
class Turn:
    trial: int
    rung: int
    start_epoch: int
    end_epoch: int
    values: dict          # the trial's sampled values (the trainer keys of the space)


def rungs(min_epochs: int, max_epochs: int, reduction: int) -> list[int]:
    """Epoch budgets of successive halving: min_epochs * reduction^k below max_epochs, then max_epochs."""
    out, e = [], min_epochs
    while e < max_epochs:
        out.append(e)
        e *= reduction
    return out + [max_epochs]


class Search:
    def __init__(self, distributions: dict, trials: int, parallel: int, min_epochs: int, max_epochs: int,
                 reduction: int, seed: int, recorded: Callable[[int], dict | None] = lambda n: None,
                 baseline: dict | None = None):
        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna, self.dists, self.trials, self.parallel, self.seed = optuna, distributions, trials, parallel, seed
        self.reduction = reduction
        self.rungs = rungs(min_epochs, max_epochs, reduction)
        self.recorded = recorded   # trial number -> the values it was asked with in an earlier, killed run
        self.baseline = baseline   # trial 0's values (the trainer's own), judged under the same budget
        self.study = optuna.create_study(direction="maximize", pruner=optuna.pruners.SuccessiveHalvingPruner(
            min_resource=min_epochs, reduction_factor=reduction, min_early_stopping_rate=0))
        self.records: dict[int, dict] = {}
        self.ended: list[int] = []   # trial numbers in the order they finished
        self._open: dict[int, object] = {}

    def _ask(self, number: int):
        # a sampler per trial, seeded by its number: the proposal is a function of the seed and the study's
        # history, not of how many draws an earlier process made (a resumed search asks what the first would)
        startup = max(self.parallel, self.trials // 3)
        self.study.sampler = self.optuna.samplers.TPESampler(seed=self.seed * 1009 + number, constant_liar=True,
                                                             n_startup_trials=startup)
        earlier = self.recorded(number)
        if earlier is None and number == 0 and self.baseline is not None:
            earlier = self.baseline
        if earlier is not None:
            self.study.enqueue_trial(earlier)
        trial = self.study.ask(self.dists)
        self._open[trial.number] = trial
        self.records[trial.number] = {"number": trial.number, "values": dict(trial.params), "status": "running",
                                      "reason": "", "curve": [], "rungs": [], "seconds": 0.0, "workers": []}
        return Turn(trial.number, 0, 0, self.rungs[0], dict(trial.params))

    def run(self, run_round: Callable[[list[Turn]], dict], after_round: Callable[[int], None] = lambda n: None):
        """Rounds until every trial has finished; run_round(turns) -> {(trial, rung): result dict}."""
        waiting: collections.deque[Turn] = collections.deque()
        asked, rounds = 0, 0
        while True:
            wave = [waiting.popleft() for _ in range(min(self.parallel, len(waiting)))]
            while asked < self.trials and len(wave) < self.parallel:
                wave.append(self._ask(asked))
                asked += 1
            if not wave:
                break
            results = run_round(wave)
            for turn in sorted(wave, key=lambda t: t.trial):
                nxt = self._tell(turn, results[(turn.trial, turn.rung)])
                if nxt:
                    waiting.append(nxt)
            rounds += 1
            after_round(rounds)
        return self.summary()

    def _tell(self, turn: Turn, result: dict) -> Turn | None:
        record, trial, state = self.records[turn.trial], self._open[turn.trial], self.optuna.trial.TrialState
        record["curve"] += result.get("curve", [])
        record["rungs"].append({"epochs": turn.end_epoch, "accuracy": result.get("accuracy"),
                                "seconds": result.get("seconds"), "worker": result.get("worker")})
        record["seconds"] = round(record["seconds"] + (result.get("seconds") or 0), 2)
        record["workers"] = sorted(set(record["workers"]) | {result.get("worker")})
        if result["status"] != "ok":
            self.study.tell(trial, state=state.FAIL)
            record.update(status="failed", reason=result.get("reason", ""))
            self.ended.append(turn.trial)
            return None
        record["score"] = result["accuracy"]
        trial.report(result["accuracy"], step=turn.end_epoch)
        if turn.rung == len(self.rungs) - 1:
            self.study.tell(trial, result["accuracy"])
            record["status"] = "complete"
            self.ended.append(turn.trial)
            return None
        if trial.should_prune():
            self.study.tell(trial, state=state.PRUNED)
            epochs = f"{turn.end_epoch} epoch" + ("s" if turn.end_epoch != 1 else "")
            record.update(status="stopped early", reason=f"not among the best 1 in {self.reduction} at {epochs}")
            self.ended.append(turn.trial)
            return None
        return Turn(turn.trial, turn.rung + 1, turn.end_epoch, self.rungs[turn.rung + 1], turn.values)

    def summary(self) -> dict:
        """The trials (by number), the best (highest score among complete trials; if none completed, among
        those stopped early), and the best score after each trial finished, in the order they finished."""
        records = [self.records[n] for n in sorted(self.records)]
        scored = [r for r in records if r["status"] == "complete"] or \
            [r for r in records if r["status"] == "stopped early"]
        if not scored:
            first = records[0] if records else {"number": "-", "reason": "no trial ran"}
            raise SearchError(f"tuner: all {len(records)} trials failed; trial {first['number']}: {first['reason']} "
                              "(every trial's reason: the tuner's trials/ folder)")
        best = max(scored, key=lambda r: (r["score"], -r["number"]))
        so_far, top = [], None
        for n in self.ended:   # the best eval accuracy any trial had reached when each one finished
            score = self.records[n].get("score")
            top = score if top is None or (score is not None and score > top) else top
            so_far.append({"trial": n, "best": top})
        return {"trials": records, "best": best, "best_so_far": so_far}
