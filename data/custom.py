"""Your own datasets, declared under `data.datasets` in pipeline.yaml: found, listed and digested.

No checksum is published for them, so none is checked: the content sha256 of every input file is
recorded instead (run summary, lineage, report), and a change of any file is a new data version.
The files' content is validated where it is read (IDX in ingest's plan, images in ingest's Beam job).

    python -c "from data.custom import acquire_custom; from cli.config import load_config; \
c = load_config('pipeline.yaml', ['data.dataset=mine']); print(acquire_custom(c.data))"
"""
from __future__ import annotations

import hashlib
import os

from data.acquire import DataError, DataSource, sha256_of
from data.images import is_image_name

USER_NOTE = ("your own data (declared in pipeline.yaml): not a verified public dataset, no published checksum; "
             "the content sha256 of every input file is recorded")
# role -> accepted file names (each also with .gz): the public files' names, and 'test' for 't10k'
IDX_NAMES = {
    "train_images": ("train-images-idx3-ubyte",), "train_labels": ("train-labels-idx1-ubyte",),
    "test_images": ("t10k-images-idx3-ubyte", "test-images-idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "test-labels-idx1-ubyte"),
}
IMAGE_SPLITS = ("train", "test")   # <root>/<split>/<class name>/<image>; train required, test optional


def _find_idx(folder: str, role: str) -> str | None:
    found = [os.path.join(folder, n + gz) for n in IDX_NAMES[role] for gz in (".gz", "")
             if os.path.isfile(os.path.join(folder, n + gz))]
    return found[0] if found else None


def _idx_source(name: str, folder: str) -> DataSource:
    files = {role: _find_idx(folder, role) for role in IDX_NAMES}
    missing = [f"{IDX_NAMES[r][0]}[.gz]" for r in ("train_images", "train_labels") if not files[r]]
    if missing:
        raise DataError(f"data.datasets.{name}.path {folder}: missing {', '.join(missing)}; expected the IDX "
                        f"files of the train split (the test pair is optional)")
    if bool(files["test_images"]) != bool(files["test_labels"]):
        have = "images" if files["test_images"] else "labels"
        raise DataError(f"data.datasets.{name}.path {folder}: has test {have} but not the other file of the pair; "
                        f"expected both test files or neither")
    files = {r: p for r, p in files.items() if p}
    return DataSource(name, "custom-idx", folder, files, {r: sha256_of(p) for r, p in files.items()}, note=USER_NOTE)


def _list_images(name: str, root: str, class_names: tuple) -> list[tuple]:
    """[(split, 'class/file', label, sha256)], sorted; unknown class folders are errors."""
    entries = []
    for split in IMAGE_SPLITS:
        split_dir = os.path.join(root, split)
        if not os.path.isdir(split_dir):
            if split == "train":
                raise DataError(f"data.datasets.{name}.path {root}: no train/ folder; expected "
                                f"{root}/train/<class name>/*.png|jpg (and optionally test/)")
            continue
        for cls in sorted(os.listdir(split_dir)):
            folder = os.path.join(split_dir, cls)
            if cls.startswith(".") or not os.path.isdir(folder):
                continue
            if cls not in class_names:
                raise DataError(f"{folder}: class folder {cls!r} is not a declared class; expected one of "
                                f"{list(class_names)} (data.datasets.{name}.class_names)")
            for file in sorted(os.listdir(folder)):
                if is_image_name(file):
                    entries.append((split, f"{cls}/{file}", class_names.index(cls),
                                    sha256_of(os.path.join(folder, file))))
    if not any(e[0] == "train" for e in entries):
        raise DataError(f"{root}/train: no .png or .jpg images in any class folder; expected "
                        f"{root}/train/<class name>/*.png|jpg")
    return entries


def _images_source(name: str, root: str, class_names: tuple) -> DataSource:
    entries = _list_images(name, root, class_names)
    files, sums = {}, {}
    for split in IMAGE_SPLITS:
        mine = [e for e in entries if e[0] == split]
        if mine:   # one digest per split over (path, content) of every image in it
            files[split] = os.path.join(root, split)
            sums[split] = hashlib.sha256("".join(f"{rel}:{sha}\n" for _, rel, _, sha in mine).encode()).hexdigest()
    return DataSource(name, "custom-images", root, files, sums, note=USER_NOTE, entries=tuple(entries))


def acquire_custom(data) -> DataSource:
    """data: the config's data section, whose `dataset` is one of its `datasets`."""
    spec = data.datasets[data.dataset]
    path = os.path.abspath(spec.path)
    if not os.path.isdir(path):
        raise DataError(f"data.datasets.{data.dataset}.path {spec.path}: no such folder")
    if spec.format == "idx":
        return _idx_source(data.dataset, path)
    return _images_source(data.dataset, path, tuple(spec.class_names))
