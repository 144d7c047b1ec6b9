"""Baseline validation, blessing-gated Pusher, and the HTML report in a real headless browser."""
import base64
import os
import re
import shutil
import socket
import subprocess
import threading
import zlib

import pytest

from cli.inspect_runs import lineage
from cli.run import run_pipeline
from pipeline.metadata import MetadataStore
from tests.conftest import results_of
from tests.test_e2e import _config

pytestmark = pytest.mark.e2e
BEAM = ["--runner=FnApiRunner"]


@pytest.fixture(scope="module")
def two_runs(module_dataset):
    """A decent model, then a deliberately worse one (one training step) on the same data."""
    folder, tmp = module_dataset
    root = str(tmp / "root")
    good = run_pipeline(_config(root, folder, ["trainer.epochs=12", "trainer.learning_rate=0.01",
                                               "evaluator.min_slice_size=5"]), BEAM)
    bad = run_pipeline(_config(root, folder, ["trainer.epochs=1", "trainer.steps_per_epoch=1",
                                              "evaluator.min_slice_size=5"]), BEAM)
    return root, good, bad


def test_first_run_is_blessed_and_pushed(two_runs):
    root, good, _ = two_runs
    assert good["blessed"] and good["components"]["evaluator"]["baseline_model"] is None
    assert good["metrics"]["accuracy"] > 0.5
    push = good["pushed"]
    assert push["pushed"] and os.path.exists(os.path.join(push["path"], "saved_model.pb"))
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    text = lineage(store, push["path"])                     # the served copy, back to the IDX files
    assert text.startswith("pushed_model:") and "<- pusher execution" in text and "<- trainer execution" in text
    assert "train-images-idx3-ubyte.gz sha256" in text
    ids = re.findall(r"^\s*\w+: artifact (\d+) (?!\(traced above\))", text, re.M)
    assert len(ids) == len(set(ids)) and "(traced above)" in text          # each artifact's tree once
    link = os.path.join(os.path.dirname(root), "served-link")
    os.symlink(push["path"], link)
    for spelling in (os.path.relpath(push["path"]), push["path"] + "/", link):  # any spelling of the folder
        assert lineage(store, spelling) == text, spelling


def test_worse_model_is_not_blessed_nor_pushed(two_runs):
    root, good, bad = two_runs
    ev = bad["components"]["evaluator"]
    assert ev["baseline_model"] == good["artifacts"]["model"]
    assert not bad["blessed"] and not bad["pushed"]["pushed"]
    reasons = ev["facts"]["blessing_reasons"]
    assert any(r.startswith("overall: change in accuracy") for r in reasons), reasons
    assert "not blessed" in bad["pushed"]["reason"]
    assert os.listdir(os.path.dirname(good["pushed"]["path"])) == [os.path.basename(good["pushed"]["path"])]
    slices = {s["slice"]: s for s in results_of(bad)["slices"]}
    overall = slices["overall"]
    assert overall["diff"] == pytest.approx(overall["accuracy"] - good["metrics"]["accuracy"], abs=1e-6)
    assert overall["baseline_accuracy"] == pytest.approx(good["metrics"]["accuracy"], abs=1e-6)
    assert sum(1 for s in slices.values() if s["diff"] is not None and s["diff"] < 0) > 5
    html = open(bad["artifacts"]["report"]).read()
    assert "NOT BLESSED" in html and "Not pushed" in html and 'class="num down"' in html


class _Catcher:
    """A TCP listener used as the browser's proxy: every request the browser makes arrives here."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port, self.hosts = self.sock.getsockname()[1], []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
                conn.settimeout(2)
                line = conn.recv(500).split(b"\r\n")[0].decode(errors="replace")  # "GET http://host/..." or "CONNECT host:443"
                self.hosts.append(re.sub(r"^\w+ (https?://)?([^/: ]+).*$", r"\2", line))
                conn.close()
            except OSError:
                return


def _render(browser, page, profile):
    """Chromium headless on a page; returns (DOM, hosts the browser contacted)."""
    catcher = _Catcher()
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update", f"--user-data-dir={profile}",
         f"--proxy-server=http://127.0.0.1:{catcher.port}", "--proxy-bypass-list=<-loopback>",
         "--virtual-time-budget=3000", "--dump-dom", "file://" + page],
        capture_output=True, text=True, timeout=120)
    return proc.stdout, set(catcher.hosts)


def _background(browser, tmp_path) -> set:
    """The hosts Chromium contacts for a blank page: its own background traffic, the control."""
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body>blank</body></html>")
    return _render(browser, str(blank), tmp_path / "p0")[1]


def _chromium() -> str:
    """Debian's chromium; CI must have it (.ci/run installs it), elsewhere its tests are skipped."""
    browser = shutil.which("chromium")
    if not browser:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return browser


def test_report_renders_in_headless_chromium_without_network(two_runs, tmp_path):
    browser = _chromium()
    _, _, bad = two_runs
    html = open(bad["artifacts"]["report"]).read()
    assert not re.findall(r'(?:src|href)="(?!data:)[^"]*"', html)         # nothing to fetch, by construction
    background = _background(browser, tmp_path)                          # Chromium's own traffic, as control
    dom, contacted = _render(browser, bad["artifacts"]["report"], tmp_path / "p2")
    assert '<table class="slices">' in dom and "overall" in dom
    assert '<table class="confusion">' in dom
    images = re.findall(r'<img alt="[^"]+" src="data:image/png;base64,([^"]+)"', dom)
    assert images, "no gallery image in the rendered page"
    png = base64.b64decode(images[0])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    idat = png[png.index(b"IDAT") + 4:png.index(b"IEND") - 8]
    assert len(zlib.decompress(idat)) == 28 * 29                    # 28 rows of filter byte + 28 pixels
    assert contacted <= background, f"the report made requests to {sorted(contacted - background)}"


def test_index_compare_and_report_pages_in_chromium(two_runs, tmp_path):
    """The run history, a comparison of the two runs and the report: rendered offline, read back from the DOM."""
    browser = _chromium()
    from cli.compare import compare
    root, good, bad = two_runs
    background = _background(browser, tmp_path)

    dom, contacted = _render(browser, bad["artifacts"]["report"], tmp_path / "p1")       # the report
    assert contacted <= background
    curves = dom[dom.index('id="learning-curves"'):]
    assert curves.count("<polyline") >= 2 and "accuracy per epoch" in curves
    table = dom[dom.index('<table class="slices">'):]
    table = table[:table.index("</table>")]
    rows = re.findall(r"<tr><td>([^<]+)</td><td[^>]*>\d+[^<]*</td><td class=\"num\">([\d.]+)</td>", table)
    assert rows[0][0] == "overall" and len(rows) > 20
    accuracies = [float(a) for _, a in rows[1:]]
    assert accuracies == sorted(accuracies)                                      # worst slices first
    assert len(re.findall(r'class="slice-chart" data-family="[^"]+"', dom)) == 7  # label, 5 properties, label x thickness

    dom, contacted = _render(browser, os.path.join(root, "index.html"), tmp_path / "p2")   # the run history
    assert contacted <= background
    listed = re.findall(r'<tr class="run"><td><a href="([^"]+)">([^<]+)</a>', dom)
    assert [r for _, r in listed] == [bad["run_id"], good["run_id"]]                # newest first, each linked
    assert os.path.exists(os.path.join(root, listed[0][0]))
    assert "<polyline" in dom[dom.index('id="accuracy-chart"'):]

    page, text = compare(root, good["run_id"], bad["run_id"], str(tmp_path / "cmp.html"))
    assert text.splitlines()[1].startswith("overall") and "page: " in text
    dom, contacted = _render(browser, page, tmp_path / "p3")                       # the comparison
    assert contacted <= background
    deltas = dom[dom.index('<table class="slice-deltas">'):]
    deltas = deltas[:deltas.index("</table>")]
    first = re.search(r'<tr class="slice"><td>overall</td>.*?([+-]\d\.\d{4})</td></tr>', deltas).group(1)
    assert float(first) == pytest.approx(bad["metrics"]["accuracy"] - good["metrics"]["accuracy"], abs=1e-4)
    changes = [float(x) for x in re.findall(r'class="num (?:down|up)">([+-]\d\.\d{4})<', deltas)]
    assert len(changes) > 20 and changes[1:] == sorted(changes[1:])                 # worst change first
    assert '<table class="confusion-diff">' in dom and "trainer.epochs" in dom    # config difference listed
    changed = re.search(r"(\d+) of 80 images of B's test split", dom)
    assert changed and int(changed.group(1)) > 0 and dom.count('<figure><img alt="tiny/test/') > 0


def test_compare_refuses_runs_that_do_not_compare(two_runs, monkeypatch):
    """Other classes or another evaluated split: one line why, unless --allow-different."""
    import copy

    from cli import compare as cmp
    root, good, bad = two_runs
    a, b = cmp.load_run(root, good["run_id"]), cmp.load_run(root, bad["run_id"])
    assert cmp.why_not_comparable(a, b) is None
    other = copy.deepcopy(b)
    other["metrics"]["config_flat"]["data.dataset"] = "fashion_mnist"
    assert "dataset" in cmp.why_not_comparable(a, other)
    other = copy.deepcopy(b)
    other["metrics"]["source"]["class_names"] = ["T-shirt/top"] + list(other["metrics"]["source"]["class_names"])[1:]
    assert "classes differ" in cmp.why_not_comparable(a, other)
    other = copy.deepcopy(b)
    other["metrics"]["evaluation"]["split"] = "eval"
    assert "split" in cmp.why_not_comparable(a, other)
    loads = {good["run_id"]: a, bad["run_id"]: other}
    monkeypatch.setattr(cmp, "load_run", lambda _root, run: loads[run])
    with pytest.raises(ValueError, match=r"do not compare: A was evaluated on its test split, B on its eval"):
        cmp.compare(root, good["run_id"], bad["run_id"])
    path, _ = cmp.compare(root, good["run_id"], bad["run_id"], allow_different=True)
    assert os.path.exists(path)
