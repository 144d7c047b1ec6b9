"""make bench writes its table into docs/performance.md (bench/table.py): between the markers, nothing else."""
import pytest

from bench import table


def test_the_table_replaces_only_what_lies_between_the_markers():
    doc = f"# P\n\nbefore\n{table.BEGIN}\nold | table\n{table.END}\n\nafter\n"
    rows = [{"bench": "e2e.py", "figure": "wall: 38.10 s (a|b)", "goal": "<= 60 s: met", "cpu": "AMD EPYC; 2 cores",
             "commit": "abc1234", "time": "2026-12-04 14:00"},
            {"bench": "scale.py", "figure": "peak 700k / 70k: 1.08x", "goal": "<= 1.2x", "cpu": "AMD EPYC; 2 cores",
             "commit": "abc1234", "time": "2026-12-04 14:20"}]
    out = table.replace(doc, table.render(rows))
    assert out.startswith("# P\n\nbefore\n") and out.endswith(f"{table.END}\n\nafter\n")
    assert "old | table" not in out
    assert "| `bench/e2e.py` | wall: 38.10 s (a\\|b) | <= 60 s: met |" in out
    assert "commit abc1234" in out and "2026-12-04 14:00 to 2026-12-04 14:20" in out


def test_the_page_has_its_markers_once_and_no_figures_is_an_error():
    doc = open(table.DOC).read()
    assert doc.count(table.BEGIN) == 1 and doc.count(table.END) == 1
    with pytest.raises(SystemExit):
        table.render([])
    with pytest.raises(SystemExit):
        table.replace("no markers here", "x")
