"""Numbers the report derives from TFMA's output: Wilson intervals and per-class precision/recall."""
import pytest

from components.evaluator.results import per_class, wilson


def test_wilson_interval():
    low, high = wilson(0.5, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    assert wilson(1.0, 8)[1] == 1.0 and 0.6 < wilson(1.0, 8)[0] < 0.7     # bounded, unlike a t-interval
    assert wilson(0.9, 10_000)[1] - wilson(0.9, 10_000)[0] < wilson(0.9, 100)[1] - wilson(0.9, 100)[0]
    assert wilson(None, 5) is None and wilson(0.5, 0) is None


def test_precision_recall_from_confusion():
    matrix = [[3, 1, 0], [0, 4, 0], [1, 0, 0]]                               # [true][predicted]
    got = per_class(matrix)
    assert got[0] == {"precision": 3 / 4, "recall": 3 / 4}
    assert got[1] == {"precision": 4 / 5, "recall": 1.0}
    assert got[2] == {"precision": None, "recall": 0.0}                    # never predicted
