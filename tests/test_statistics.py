"""Statistics on a handful of records (TestPipeline), and the validator's rules on real statistics."""
import copy

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from components.statistics.stats import finish
from components.statistics.transforms import MALFORMED, ComputeStatistics
from components.validator import expectations as ex
from components.validator.validate import anomalies
from contract.records import to_sequence_example
from tests.conftest import RUNNER, make_images


def _records(split, images, labels, start=0):
    return [(split, to_sequence_example(img, int(lab), f"t/{split}/{start + i}")) for i, (img, lab) in
            enumerate(zip(images, labels))]


def test_statistics_of_a_handful_of_records():
    images = np.zeros((4, 28, 28), np.uint8)
    images[0, 3, :] = 255                       # one bright row
    images[1] = 255                             # saturated
    images[3] = images[0]                       # a copy of image 0, in another split
    records = (_records("train", images[:3], [1, 2, 2]) + _records("eval", images[3:], [1])
               + [("eval", b"not a record")])

    def check_splits(rows):
        got = {split: finish(total) for split, total in rows}
        train, ev = got["train"], got["eval"]
        assert (train["count"], ev["count"]) == (3, 1)
        assert train["labels"] == {"1": 1, "2": 2}
        assert train["empty"] == 1 and train["saturated"] == 1
        assert train["pixel_range"] == [0.0, 255.0] and train["shape"] == {"rows": [28, 28], "width": [28, 28]}
        assert train["row_mean"][3] == pytest.approx((255 + 255) / 3) and train["row_mean"][0] == pytest.approx(255 / 3)
        assert sum(train["pixel_histogram"]["counts"]) == 3 * 784
        assert sum(train["properties"]["ink"]["counts"]) == 3

    with TestPipeline(runner=RUNNER) as p:
        out = p | "Records" >> beam.Create(records) | "Stats" >> ComputeStatistics(num_classes=10, batch_size=8)
        assert_that(out["splits"], check_splits, label="CheckSplits")
        assert_that(out["duplicates"], equal_to([("across:eval~train", 1)]), label="CheckDuplicates")
        assert_that(out[MALFORMED] | "Splits" >> beam.Map(lambda m: m.split(":")[0]), equal_to(["eval"]),
                    label="CheckMalformed")


def _stats_of(splits: dict) -> dict:
    """statistics.json of {split: (images, labels)}, from the same functions the Beam steps combine."""
    import collections
    import hashlib

    from components.statistics.stats import partial
    from components.statistics.transforms import _duplicate_counts
    from contract.features import properties
    seen = collections.defaultdict(list)
    for name, (imgs, _) in splits.items():
        for img in imgs:
            seen[hashlib.sha1(img.tobytes()).hexdigest()].append(name)
    counts = collections.Counter()
    for item in seen.items():
        for key, n in _duplicate_counts(item):
            counts[key] += n
    return {"dataset": "tiny",
            "splits": {name: {**finish(partial(imgs.astype(np.float32), labs.astype(np.int64), properties(imgs), 10)),
                              "duplicates": counts[f"within:{name}"]} for name, (imgs, labs) in splits.items()},
            "cross_split_duplicates": {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("across:")},
            "malformed": {"count": 0, "examples": []}}


@pytest.fixture(scope="module")
def clean():
    train, ev, test = make_images(600, 1), make_images(200, 2), make_images(200, 3)
    stats = _stats_of({"train": train, "eval": ev, "test": test})
    exp = ex.generate(stats, tuple(range(10)), {"run_id": "clean"})
    return stats, exp, (train, ev, test)


def test_clean_data_passes_and_expectations_round_trip(clean):
    stats, exp, _ = clean
    assert anomalies(stats, exp) == []
    assert ex.load(ex.dump(exp), "exp.yaml") == exp
    assert exp.min_count == {"train": 300, "eval": 100, "test": 100} and exp.max_cross_split_duplicates == 1


def test_label_outside_the_label_set(clean):
    _, exp, (train, ev, test) = clean
    labels = ev[1].copy()
    labels[:3] = 12
    found = anomalies(_stats_of({"train": train, "eval": (ev[0], labels), "test": test}), exp)
    assert "eval: labels outside 0..9: >9 (3 records)" in [a["message"] for a in found]


def test_expectations_file_errors_name_the_file():
    with pytest.raises(ex.ExpectationsError, match=r"e.yaml: unknown keys \['max_drift'\], missing keys"):
        ex.load("max_drift: 1\n", "e.yaml")
    with pytest.raises(ex.ExpectationsError, match="e.yaml: not valid YAML"):
        ex.load("a: [", "e.yaml")


def test_drift_against_the_previous_accepted_run(clean):
    stats, exp, _ = clean
    previous = copy.deepcopy(stats)
    previous["splits"]["test"]["labels"] = {str(k): (100 if k == 0 else 20) for k in range(10)}
    found = anomalies(stats, exp, previous)
    assert [a["statistic"] for a in found] == ["label_drift"]
    assert "from the previous accepted run" in found[0]["message"] and found[0]["split"] == "test"
