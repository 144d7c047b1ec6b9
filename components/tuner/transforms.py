"""The Beam part of the tuner: a round's trial turns (dicts, components/tuner/trial.py) -> their results, each
trained on whichever worker the runner hands it to. A Reshuffle spreads the turns: Flink's batch translator
makes it a round-robin rebalance (so two turns go to two of the job's parallel subtasks, not one), and the
in-process runner's multi-process mode splits its input over its workers. Failed trials go to a tagged output
and a counter.

    with TestPipeline() as p:
        out = p | beam.Create(tasks) | RunTrials()
        assert_that(out[FAILED], equal_to([]), label="NoneFailed")
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

NAMESPACE = "tuner"
FAILED = "failed"


class _TrainTurn(beam.DoFn):
    def setup(self):
        self._ran = Metrics.counter(NAMESPACE, "trial_turns_run")
        self._failed = Metrics.counter(NAMESPACE, "trial_turns_failed")

    def process(self, task):
        from components.tuner.trial import run_task
        result = run_task(task)
        self._ran.inc()
        if result["status"] == "failed":
            self._failed.inc()
            yield beam.pvalue.TaggedOutput(FAILED, result)
        else:
            yield result


@beam.ptransform_fn
def RunTrials(tasks):
    """Trial turns -> {"done": finished results, FAILED: failed ones}."""
    return (tasks
            | "Spread" >> beam.Reshuffle()
            | "Train" >> beam.ParDo(_TrainTurn()).with_outputs(FAILED, main="done"))
