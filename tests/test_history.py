"""The run-history page (cli/history.py): every run counted, every finished run drawn, one line per
dataset and evaluated split (eval and test accuracies are never joined)."""
import re

from cli.history import render_index


def _row(i, dataset, split, accuracy, status="succeeded"):
    return {"run_id": f"r{i}", "dataset": dataset, "started": 1.7e9 + i, "status": status, "source": "", "digest": "",
            "accuracy": accuracy, "split": split, "blessed": True, "pushed": None, "cached": [], "report": None,
            "profile": None}


def test_every_run_is_counted_and_drawn_and_splits_never_mix():
    rows = [_row(0, "mnist", "test", 0.96), _row(1, "mnist", "eval", 0.98), _row(2, "fashion_mnist", "test", 0.85),
            _row(3, "mnist", "test", None, status="failed"), _row(4, "mnist", "test", 0.97)]
    page = render_index(rows, "/root")
    chart = page[page.index('id="accuracy-chart"'):page.index("</svg>")]
    assert "runs: 5" in chart and "5 runs, newest first" in page
    lines = re.findall(r'<polyline [^>]*points="([^"]*)"', chart)
    assert sorted(len(p.split()) for p in lines) == [1, 1, 2]        # mnist (test): 2, mnist (eval): 1, fashion: 1
    assert chart.count("<circle") == 4                                # a one-run line is still seen
    assert {"mnist (test)", "mnist (eval)", "fashion_mnist (test)"} <= set(re.findall(r">([a-z_]+ \(\w+\))<", chart))
