"""The benches write their figures into docs/performance.md (bench/table.py): between the markers, nothing
else; a bench's rows replace its own, the other benches' rows stay with when and where they were measured."""
import pytest

from bench import table

CPU = "AMD EPYC; 2 cores; flags: avx2 fma"


def _record(bench, figure, goal="", time="2026-12-07 10:00", commit="abc1234"):
    return {"bench": bench, "figure": figure, "goal": goal, "cpu": CPU, "commit": commit, "time": time}


def test_a_bench_replaces_its_own_rows_and_keeps_the_others():
    old = (f"{table.BEGIN}\n`make bench` of 2026-12-04 17:53 to 2026-12-04 18:43, commit d5ce288, on {CPU} "
           f"(written by bench/table.py):\n\n| bench | figure | goal |\n| --- | --- | --- |\n"
           "| `bench/e2e.py` | wall: 82.72 s (a\\|b) | <= 60 s: MISSED |\n"
           "| `bench/predict.py` | predict (10000 records): 0.41x | >= 0.5x: MISSED |\n"
           f"{table.END}\n")
    doc = f"# P\n\nbefore\n{old}\nafter\n"
    new = [_record("predict.py", "predict (100000 records): 0.81x", ">= 0.9x: MISSED"),
           _record("predict.py", "predict (100000 records): 0.97x", ">= 0.9x: met", time="2026-12-07 10:05"),
           _record("pods.py", "fashion_mnist, cold: the pods 1.53x", "<= 1.5: MISSED")]
    rows = table.merge(table.old_rows(old), new)
    out = table.replace(doc, rows)
    assert out.startswith("# P\n\nbefore\n") and out.endswith(f"{table.END}\n\nafter\n")
    assert "| `bench/e2e.py` | wall: 82.72 s (a\\|b) | <= 60 s: MISSED | 2026-12-04 17:53, d5ce288, AMD, avx2 fma |" in out
    assert "0.41x" not in out and "0.81x" not in out          # a figure's latest record only
    assert "| `bench/predict.py` | predict (100000 records): 0.97x | >= 0.9x: met | 2026-12-07 10:05, abc1234" in out
    assert out.index("bench/e2e.py") < out.index("bench/predict.py") < out.index("bench/pods.py")
    again = table.merge(table.old_rows(out[out.index(table.BEGIN):]), [new[-1]])   # a second pass is stable
    assert table.replace(doc, again) == out


def test_the_page_has_its_markers_once_and_a_page_without_them_is_an_error():
    doc = open(table.DOC).read()
    assert doc.count(table.BEGIN) == 1 and doc.count(table.END) == 1
    with pytest.raises(SystemExit):
        table.replace("no markers here", [])
