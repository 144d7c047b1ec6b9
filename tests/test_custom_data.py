"""Your own data: datasets declared in pipeline.yaml, as IDX files or an image-folder tree (pytest -m e2e)."""
import gzip
import hashlib
import io
import json
import os
import re

import numpy as np
import pytest
from conftest import RUNNER, make_images
from PIL import Image

from cli.config import ConfigError, load_config
from cli.run import run_pipeline
from data.acquire import DataError
from data.idx import IdxError, encode_idx
from data.images import ImageError, to_mnist

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _overrides(root, name, fmt, path, extra=()):
    spec = json.dumps({"format": fmt, "path": str(path), "class_names": CLASSES})
    return [f"pipeline.root={root}", f"data.datasets={{{name}: {spec}}}", f"data.dataset={name}",
            "ingest.eval_fraction=0.25", "ingest.num_shards=2", "ingest.chunk_size=64", "trainer.cell_size=16",
            "trainer.epochs=2", "trainer.batch_size=32", "evaluator.min_accuracy=0.0",
            f"validation.expectations={root}/expectations-{{dataset}}.yaml", *extra]


def _config(*args, **kw):
    return load_config(os.path.join(REPO, "pipeline.yaml"), _overrides(*args, **kw))


def write_idx_folder(folder, n_train=240, n_test=80, seed=0, gz=True):
    os.makedirs(folder, exist_ok=True)
    (xtr, ytr), (xte, yte) = make_images(n_train, seed), make_images(n_test, seed + 1)
    for name, arr in (("train-images-idx3-ubyte", xtr), ("train-labels-idx1-ubyte", ytr),
                      ("t10k-images-idx3-ubyte", xte), ("t10k-labels-idx1-ubyte", yte)):
        blob = encode_idx(arr)
        with open(os.path.join(folder, name + (".gz" if gz else "")), "wb") as f:
            f.write(gzip.compress(blob, mtime=0) if gz else blob)


def write_image_tree(root, n_train=200, n_test=60, seed=0, corrupt=True):
    """PNGs under root/<split>/<class>/; sizes vary (the conversion pads and resizes); one corrupt file."""
    for split, n, s in (("train", n_train, seed), ("test", n_test, seed + 1)):
        images, labels = make_images(n, s)
        for i, (img, k) in enumerate(zip(images, labels)):
            folder = os.path.join(root, split, CLASSES[k])
            os.makedirs(folder, exist_ok=True)
            big = np.kron(img, np.ones((2, 2), dtype=np.uint8)) if i % 3 == 0 else img  # 56x56: area-averaged back
            Image.fromarray(big).save(os.path.join(folder, f"img{i:04d}.png"))
    if corrupt:
        with open(os.path.join(root, "train", "three", "broken.png"), "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n not really a png")


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


# --- configuration ------------------------------------------------------------------------------------------

def test_declared_dataset_is_validated(tmp_path):
    with pytest.raises(ConfigError, match="registered public dataset"):
        _config(tmp_path, "mnist", "idx", tmp_path)
    with pytest.raises(ConfigError, match=r"dark_on_light: applies to format 'images' only"):
        load_config(None, ["data.datasets={mine: {format: idx, path: /x, class_names: [a, b], dark_on_light: true}}"])
    with pytest.raises(ConfigError, match=r"class_names: got \('a', 'a'\)"):
        load_config(None, ["data.datasets={mine: {format: idx, path: /x, class_names: [a, a]}}"])
    with pytest.raises(ConfigError, match=r"^data.datasets.mine.class_names: got \('T-shirt/top', 'b'\); expected "
                                          r"names without '/' \(each names a folder\)"):
        load_config("pipeline.yaml", ["data.datasets={mine: {format: images, path: /x, class_names: [T-shirt/top, b]}}"])
    idx = load_config("pipeline.yaml", ["data.datasets={mine: {format: idx, path: /x, class_names: [T-shirt/top, b]}}"])
    assert idx.data.datasets["mine"].class_names[0] == "T-shirt/top"    # an IDX set names no folder
    with pytest.raises(ConfigError, match=r"data.datasets.mine.fromat: unknown key; did you mean"):
        load_config(None, ["data.datasets={mine: {fromat: idx, path: /x, class_names: [a, b]}}"])
    with pytest.raises(ConfigError, match=r"unknown dataset 'mien'.*did you mean 'mine'"):
        load_config(None, ["data.datasets={mine: {path: /x, class_names: [a, b]}}", "data.dataset=mien"])


# --- the conversion rule ------------------------------------------------------------------------------------

def _png(array, mode="L"):
    buf = io.BytesIO()
    Image.fromarray(array).convert(mode).save(buf, format="PNG")
    return buf.getvalue()


def test_conversion_keeps_aspect_pads_and_area_averages():
    tall = np.zeros((56, 28), dtype=np.uint8)
    tall[:, 12:16] = 255                        # a vertical bar, twice as tall as wide
    out = to_mnist(_png(tall))
    assert out.shape == (28, 28) and out.dtype == np.uint8
    # padded to 56x56 (centred: 14 black columns each side), then each output pixel averages 2x2
    assert out[:, :7].max() == 0 and out[:, 21:].max() == 0
    assert out[10, 7 + 6] == 255 and out[10, 7 + 7] == 255
    light = np.full((28, 28), 255, dtype=np.uint8)
    light[5:9, 5:9] = 0                         # dark ink on white paper
    assert to_mnist(_png(light, "RGB"), dark_on_light=True)[6, 6] == 255
    assert to_mnist(_png(light), dark_on_light=True)[20, 20] == 0
    odd = np.full((3, 3), 90, dtype=np.uint8)   # upscaled: every output pixel covers one source pixel
    assert set(np.unique(to_mnist(_png(odd)))) == {90}
    for bad, why in ((b"", "empty file"), (b"GIF89a junk", "cannot decode")):
        with pytest.raises(ImageError, match=why):
            to_mnist(bad)


# --- end to end ---------------------------------------------------------------------------------------------

@pytest.mark.e2e
def test_custom_idx_dataset_end_to_end(tmp_path):
    folder = tmp_path / "digits"
    write_idx_folder(folder, gz=False)           # uncompressed files are accepted too
    cfg = _config(tmp_path / "root", "my_digits", "idx", folder)
    summary = run_pipeline(cfg, [f"--runner={RUNNER}"])
    assert summary["status"] == "succeeded" and summary["blessed"] is True and summary["pushed"]["pushed"]
    src = summary["source"]
    assert src["kind"] == "custom-idx" and "not a verified public dataset" in src["note"]
    assert src["sha256"]["train_images"] == sha(folder / "train-images-idx3-ubyte")
    assert set(src["sha256"]) == {"train_images", "train_labels", "test_images", "test_labels"}
    report = open(summary["artifacts"]["report"]).read()
    assert 'id="own-data"' in report and src["sha256"]["test_labels"] in report and "zero" in report


def test_custom_idx_label_outside_declared_classes(tmp_path):
    folder = tmp_path / "digits"
    write_idx_folder(folder)
    images, labels = make_images(240, 0)
    labels[17] = 12                                # two past the last declared class
    with open(folder / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write(gzip.compress(encode_idx(labels), mtime=0))
    cfg = _config(tmp_path / "root", "my_digits", "idx", folder)
    with pytest.raises(IdxError, match=r"train-labels-idx1-ubyte.gz: at byte 25: label 12 at index 17; expected 0..9"):
        run_pipeline(cfg, [f"--runner={RUNNER}"])
    assert not os.path.exists(tmp_path / "root" / "serving")
    runs = os.listdir(tmp_path / "root" / "runs")
    assert not any(os.path.exists(tmp_path / "root" / "runs" / r / "ingest") for r in runs)


def test_image_folder_errors_name_the_folder(tmp_path):
    write_image_tree(tmp_path / "imgs", n_train=20, n_test=0, corrupt=False)
    os.makedirs(tmp_path / "imgs" / "train" / "ten")
    cfg = _config(tmp_path / "root", "scans", "images", tmp_path / "imgs")
    with pytest.raises(DataError, match=r"imgs/train/ten: class folder 'ten' is not a declared class"):
        run_pipeline(cfg, [f"--runner={RUNNER}"])
    with pytest.raises(DataError, match="no train/ folder"):
        run_pipeline(_config(tmp_path / "root", "scans", "images", tmp_path), [f"--runner={RUNNER}"])


@pytest.mark.e2e
def test_image_folder_versions_end_to_end(tmp_path):
    """Version 1 with a corrupt PNG (reported by name), then version 2 (new images): re-ingested, drift and
    both digests in the report, compared with the last blessed model."""
    tree, root = tmp_path / "imgs", tmp_path / "root"
    write_image_tree(tree)
    first = run_pipeline(_config(root, "scans", "images", tree, ["ingest.max_malformed=1"]), [f"--runner={RUNNER}"])
    assert first["status"] == "succeeded" and first["blessed"] is True
    assert first["source"]["kind"] == "custom-images" and first["source"]["images"] == {"train": 201, "test": 60}
    malformed = open(next(p for p in _files(first["artifacts"]["examples"]) if "malformed" in p)).read()
    assert "train/three/broken.png" in malformed and "cannot decode" in malformed
    assert sum(first["records"].values()) == 260
    from cli.inspect_runs import lineage
    from pipeline.metadata import MetadataStore
    store = MetadataStore(first["metadata"])
    traced = lineage(store, first["artifacts"]["examples"])
    store.close()
    image = tree / "train" / "five" / sorted(os.listdir(tree / "train" / "five"))[0]
    assert f"{image} sha256 {sha(image)}" in traced        # every image's content, in the lineage

    write_image_tree(tree, n_train=260, seed=7)   # the next month's data: more, and different, images
    second = run_pipeline(_config(root, "scans", "images", tree, ["ingest.max_malformed=1"]), [f"--runner={RUNNER}"])
    assert second["components"]["ingest"]["status"] == "succeeded"       # not cached: the digests differ
    assert second["source"]["sha256"]["train"] != first["source"]["sha256"]["train"]
    anomalies = json.load(open(os.path.join(second["artifacts"]["anomalies"], "anomalies.json")))
    assert anomalies["data_versions"]["previous"]["sha256"] == first["source"]["sha256"]
    assert anomalies["data_versions"]["current"]["sha256"] == second["source"]["sha256"]
    assert set(anomalies["drift_vs_previous"]) == {"train", "eval", "test"}
    assert anomalies["drift_vs_previous"]["train"]["label"] > 0
    report = open(second["artifacts"]["report"]).read()
    assert first["source"]["sha256"]["train"] in report and second["source"]["sha256"]["train"] in report
    assert "The data changed since the previous accepted run" in report
    assert second["components"]["evaluator"]["baseline_model"]   # compared with the first run's blessed model


def _files(folder):
    return [os.path.join(folder, f) for f in os.listdir(folder)]


def test_too_many_malformed_images_name_them_and_keep_the_evidence(tmp_path):
    """The error names the bad file; the list outlives the failed step's staging (<run>/evidence/ingest/)."""
    write_image_tree(tmp_path / "imgs", n_train=20, n_test=8)      # one corrupt PNG, none allowed
    root = tmp_path / "root"
    with pytest.raises(Exception, match=r"1 malformed records \(allowed: 0\): \S*train/three/broken.png: .*; all in "
                                        r".*/evidence/ingest/malformed.txt") as caught:
        run_pipeline(_config(root, "scans", "images", tmp_path / "imgs"), [f"--runner={RUNNER}"])
    kept = str(caught.value).rsplit("all in ", 1)[1]
    assert os.path.isfile(kept) and "broken.png" in open(kept).read()
    (run,) = os.listdir(root / "runs")
    assert not os.path.exists(root / "runs" / run / ".staging")      # the staging is gone, the evidence is not


def test_a_failed_step_is_one_line_on_the_console_and_its_trace_in_the_log(tmp_path):
    import subprocess
    import sys
    write_image_tree(tmp_path / "imgs", n_train=20, n_test=8)
    args = [sys.executable, "-m", "pipeline", "run", "--config", os.path.join(REPO, "pipeline.yaml")]
    for kv in _overrides(tmp_path / "root", "scans", "images", tmp_path / "imgs"):
        args += ["--set", kv]
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)
    console = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "Traceback" not in console, console
    (error,) = [line for line in console.splitlines() if line.startswith("error:")]
    assert "broken.png" in error
    log = re.search(r"^log: (\S+)", console, re.M).group(1)
    assert "Traceback" in open(log).read() and "IngestError" in open(log).read()
    page = open(re.search(r"^report: (\S+)", console, re.M).group(1)).read()   # a failed run has its report
    assert "FAILED" in page and "train/three/broken.png" in page and "evidence/ingest/malformed.txt" in page


# --- one decoding rule for every image mode (data/images.py) ------------------------------------------------

def _encoded(img, fmt="PNG", **kw):
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


RAMP = np.tile(np.arange(0, 252, 9, dtype=np.uint8), (28, 1))        # 28x28: no padding, no resizing


@pytest.mark.parametrize("mode", ["L", "1", "P", "RGB", "I;16", "LA-dark-on-light", "RGBA", "P-transparent"])
def test_each_png_mode_decodes_to_the_documented_pixels(mode):
    dark = False
    if mode == "L":
        img, want = Image.fromarray(RAMP), RAMP
    elif mode == "1":
        img, want = Image.fromarray(RAMP > 120).convert("1"), np.where(RAMP > 120, 255, 0)
    elif mode == "P":
        img, want = Image.fromarray(RAMP).convert("P"), RAMP          # a gray palette: the same values
    elif mode == "RGB":
        rgb = np.zeros((28, 28, 3), np.uint8)
        rgb[:, :9, 0], rgb[:, 9:18, 1], rgb[:, 18:, 2] = 255, 255, 255
        img, want = Image.fromarray(rgb), np.repeat([76, 150, 29], [9, 9, 10])[None, :].repeat(28, 0)  # 601-2 luma
    elif mode == "I;16":
        img, want = Image.fromarray(RAMP.astype(np.uint16) * 257), RAMP   # scaled from 16 bits, not clipped
    elif mode == "LA-dark-on-light":                                       # black ink in the alpha channel only
        la = np.stack([np.zeros_like(RAMP), RAMP], axis=-1)
        img, want, dark = Image.fromarray(la, "LA"), RAMP, True           # on white paper, then inverted
    elif mode == "RGBA":                                                   # white ink, opacity = the ramp
        rgba = np.dstack([np.full((28, 28, 3), 255, np.uint8), RAMP])
        img, want = Image.fromarray(rgba, "RGBA"), RAMP                   # on black paper
    else:
        pal = Image.fromarray(RAMP).convert("P")
        pal.info["transparency"] = int(np.asarray(pal)[0, 0])              # the ramp's 0 is transparent
        img, want = pal, RAMP
    got = to_mnist(_encoded(img), dark_on_light=dark)
    assert np.abs(got.astype(int) - want).max() <= 1, (mode, got[0], want[0])


def test_modes_png_cannot_hold_follow_the_same_rule():
    from data.images import to_gray
    assert np.array_equal(to_gray(Image.fromarray(RAMP.astype(np.int32) * 257, "I"))[0], RAMP)
    assert np.array_equal(to_gray(Image.fromarray(RAMP.astype(np.float32) / 255, "F"))[0], RAMP)
    pa = Image.fromarray(np.stack([RAMP, np.full_like(RAMP, 255)], -1), "LA").convert("PA")
    assert np.abs(to_gray(pa)[0].astype(int) - RAMP).max() <= 1


def test_jpeg_cmyk_and_exif_orientation():
    half = np.zeros((28, 28, 4), np.uint8)
    half[:, :14, 3] = 255                                                  # left: full black ink (K)
    got = to_mnist(_encoded(Image.fromarray(half, "CMYK"), "JPEG", quality=95))
    assert got[:, :10].max() < 30 and got[:, 18:].min() > 225
    corner = np.zeros((28, 28), np.uint8)
    corner[:8, :8] = 255                                                   # stored top-left ...
    exif = Image.Exif()
    exif[0x0112] = 6                                                       # ... shown rotated 90 degrees clockwise
    got = to_mnist(_encoded(Image.fromarray(corner), "JPEG", quality=95, exif=exif))
    assert got[:8, -8:].mean() > 200 and got[:8, :8].mean() < 50          # upright: top-right


def test_an_image_blank_after_conversion_is_an_error():
    la = np.stack([np.zeros_like(RAMP), RAMP], axis=-1)                    # ink only in alpha, on black paper
    with pytest.raises(ImageError, match=r"blank after conversion \(every pixel 0\) though the LA source is not"):
        to_mnist(_encoded(Image.fromarray(la, "LA")))
    assert to_mnist(_encoded(Image.fromarray(np.zeros((28, 28), np.uint8)))).max() == 0   # a blank source is fine


@pytest.mark.e2e
def test_without_a_test_set_the_reported_split_chose_nothing(tmp_path):
    """No test/ folder: ingest carves the test split from train by hash; the evaluator reports on it, never
    on eval, which chose the model; the console line says so."""
    write_image_tree(tmp_path / "imgs", n_train=240, n_test=0, corrupt=False)
    summary = run_pipeline(_config(tmp_path / "root", "scans", "images", tmp_path / "imgs"), [f"--runner={RUNNER}"])
    assert summary["status"] == "succeeded" and summary["records"]["test"] > 0
    assert sum(summary["records"].values()) == 240
    assert "no test set" in summary["components"]["ingest"]["facts"]["test_split"]
    evaluator = summary["components"]["evaluator"]["facts"]
    assert evaluator["split"] == "test" and "not used to choose the model" in evaluator["split_note"]
    line = summary["components"]["evaluator"]["headline"]   # what the console printed
    assert "on test (" in line and "chose nothing" in line
