"""Generated expectations that make sense (components/validator): shares never above 1, a first run that
cannot reject itself, and absolute rules that no generated bound can waive."""
import random

import pytest

from components.validator.expectations import RULES, Expectations, dump, generate, load
from components.validator.validate import anomalies


def _split(labels: dict, empty=0, histogram=None):
    n = sum(labels.values())
    return {"count": n, "labels": {str(k): v for k, v in labels.items() if v}, "empty": empty, "saturated": 0,
            "shape": {"rows": [28, 28], "width": [28, 28]}, "pixel_range": [0.0, 255.0],
            "pixel_histogram": {"counts": histogram or [n * 700] + [n * 5] * 15}}


def _stats(splits: dict, duplicates=None):
    return {"dataset": "tiny", "num_classes": 10, "splits": splits, "cross_split_duplicates": duplicates or {}}


def _kinds(found):
    return {a["statistic"] for a in found}


def test_a_small_first_run_does_not_reject_itself():
    """200 train / 50 test images: eval (23 records) lacks label 8 by chance; its own bounds accept it."""
    rng = random.Random(0)
    for _ in range(50):
        splits = {}
        for name, n in (("train", rng.randint(150, 400)), ("eval", rng.randint(15, 60)), ("test", rng.randint(20, 80))):
            counts = {k: 0 for k in range(10)}
            for _ in range(n):
                counts[rng.randrange(10)] += 1
            if name == "train" and min(counts.values()) == 0:
                counts[min(counts, key=counts.get)] = 1
            splits[name] = _split(counts)
        stats = _stats(splits)
        assert anomalies(stats, generate(stats)) == [], splits


def test_an_all_empty_split_is_refused_whatever_the_bounds():
    stats = _stats({"train": _split({k: 30 for k in range(10)}), "test": _split({k: 5 for k in range(10)}, empty=50)})
    exp = generate(stats)
    assert exp.max_empty_fraction <= 1.0                          # a share; it was 2.0 once
    found = anomalies(stats, exp)
    assert "all_empty" in _kinds(found) and found[0]["split"] == "test"


def test_a_label_missing_from_train_and_a_leaking_split_are_refused():
    no_three = {k: (0 if k == 3 else 30) for k in range(10)}
    stats = _stats({"train": _split(no_three), "test": _split({k: 5 for k in range(10)})})
    assert "labels" in _kinds(anomalies(stats, generate(stats, labels=tuple(range(10)))))
    leak = _stats({"train": _split({k: 30 for k in range(10)}), "test": _split({k: 5 for k in range(10)})},
                  duplicates={"test~train": 40})
    assert "split_leak" in _kinds(anomalies(leak, generate(leak)))


def test_every_bound_has_its_rule_and_the_file_round_trips():
    stats = _stats({"train": _split({k: 30 for k in range(10)}), "eval": _split({k: 3 for k in range(10)})})
    exp = generate(stats, provenance={"run_id": "r1"})
    bounds = {f for f in Expectations.__dataclass_fields__ if f.startswith(("max_", "min_", "every_"))}
    assert bounds == set(RULES)
    assert load(dump(exp), "x.yaml") == exp
    with pytest.raises(Exception):
        load(dump(exp).replace("every_label_from", "every_lable_from"), "x.yaml")
