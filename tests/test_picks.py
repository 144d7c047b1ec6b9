"""The gallery's errors and the canaries, picked per batch of TFMA's extracts (components/evaluator/picks.py)."""
import apache_beam as beam
import numpy as np
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from components.evaluator.picks import PickErrorsAndCanaries, PicksCombineFn
from contract.records import canary_rank


def _batch(ids, labels, probs, model=""):
    labels, probs = np.array(labels), np.array(probs, dtype=np.float32)
    predictions = {"probabilities": probs, "classes": probs.argmax(1)}
    return {"features": {"image_id": np.array([i.encode() for i in ids], dtype=object)},
            "labels": {model: labels, "other": labels} if model else labels,
            "predictions": {model: predictions, "other": {"probabilities": 1 - probs}} if model else predictions}


BATCHES = [_batch(["x/1", "x/2"], [0, 1], [[0.2, 0.8, 0.0], [0.1, 0.9, 0.0]]),       # x/1 wrong (0.8)
           _batch(["x/3", "x/4", "x/5"], [2, 2, 0], [[0.95, 0.05, 0.0], [0.6, 0.0, 0.4], [0.1, 0.85, 0.05]])]


def test_picks_the_most_confident_errors_per_label_and_the_lowest_ranked_canaries():
    ids = [f"x/{i}" for i in range(1, 6)]
    canaries = sorted(sorted(ids, key=canary_rank)[:3])
    predicted = {"x/1": 1, "x/2": 1, "x/3": 0, "x/4": 0, "x/5": 1}
    expected = {"errors": {"0": [{"image_id": "x/5", "label": 0, "predicted": 1, "confidence": 0.85}],
                           "2": [{"image_id": "x/3", "label": 2, "predicted": 0, "confidence": 0.95}]},
                "canaries": [{"image_id": i, "predicted": predicted[i]} for i in canaries]}
    with TestPipeline() as p:    # x/1 (label 0, 0.8) and x/4 (label 2, 0.6) lose their places: one error per label
        got = p | beam.Create(BATCHES) | PickErrorsAndCanaries(canaries=3, errors=1)
        assert_that(got, equal_to([expected]), label="picks")


def test_the_same_picks_whatever_the_batches_and_merges():
    fn = PicksCombineFn(canaries=2, errors=5)
    whole = fn.extract_output(fn.add_input(fn.create_accumulator(), _batch(
        ["x/1", "x/2", "x/3", "x/4", "x/5"], [0, 1, 2, 2, 0],
        [[0.2, 0.8, 0.0], [0.1, 0.9, 0.0], [0.95, 0.05, 0.0], [0.6, 0.0, 0.4], [0.1, 0.85, 0.05]])))
    parts = [fn.add_input(fn.create_accumulator(), b) for b in BATCHES]
    assert fn.extract_output(fn.merge_accumulators(parts)) == whole
    assert [e["image_id"] for e in whole["errors"]["0"]] == ["x/5", "x/1"]    # most confident first
    assert len(whole["canaries"]) == 2


def test_reads_the_candidate_where_extracts_hold_two_models():
    fn = PicksCombineFn(canaries=5, errors=5, model_name="candidate")
    out = fn.extract_output(fn.add_input(fn.create_accumulator(), _batch(
        ["x/9"], [1], [[0.7, 0.3]], model="candidate")))
    assert out["errors"] == {"1": [{"image_id": "x/9", "label": 1, "predicted": 0, "confidence": 0.7}]}
    assert out["canaries"] == [{"image_id": "x/9", "predicted": 0}]       # not the other model's class 1


def test_an_empty_split_picks_nothing():
    fn = PicksCombineFn(canaries=3, errors=3)
    assert fn.extract_output(fn.merge_accumulators([fn.create_accumulator()])) == {"errors": {}, "canaries": []}
