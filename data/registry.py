"""Registry of the datasets this pipeline knows: file names, sizes, checksums, mirrors.

Two checksums per file: ``gz_sha256`` is the published archive (verified on download);
``raw_sha256`` is the decompressed IDX content, so a re-compressed copy (Debian's
``dataset-fashion-mnist`` re-gzips the upstream files) is still recognised as genuine.

    python -c "from data.registry import DATASETS; print(sorted(DATASETS))"
"""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class IdxFile:
    name: str          # e.g. train-images-idx3-ubyte.gz
    gz_size: int
    gz_sha256: str
    raw_sha256: str


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str
    mirrors: tuple[str, ...]          # base URLs, tried in order
    files: dict[str, IdxFile]         # role -> file; roles below
    local_dirs: tuple[str, ...]       # standard places besides data/<name>/
    class_names: tuple[str, ...]
    # A left-right mirrored image still shows its class (garments, shoes, bags), so mirroring is a
    # valid training augmentation. Not for digits: a mirrored 2 or 7 is no digit at all.
    mirror_invariant: bool = False

    def file(self, role: str) -> IdxFile:
        return self.files[role]


ROLES = ("train_images", "train_labels", "test_images", "test_labels")

MNIST = Dataset(
    name="mnist",
    mirrors=(
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
    ),
    files={
        "train_images": IdxFile(
            "train-images-idx3-ubyte.gz", 9912422,
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        "train_labels": IdxFile(
            "train-labels-idx1-ubyte.gz", 28881,
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        "test_images": IdxFile(
            "t10k-images-idx3-ubyte.gz", 1648877,
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        "test_labels": IdxFile(
            "t10k-labels-idx1-ubyte.gz", 4542,
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    },
    local_dirs=("/usr/share/datasets/mnist",),
    class_names=tuple(str(d) for d in range(10)),
)

FASHION_MNIST = Dataset(
    name="fashion_mnist",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    files={
        "train_images": IdxFile(
            "train-images-idx3-ubyte.gz", 26421880,
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        "train_labels": IdxFile(
            "train-labels-idx1-ubyte.gz", 29515,
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        "test_images": IdxFile(
            "t10k-images-idx3-ubyte.gz", 4422102,
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        "test_labels": IdxFile(
            "t10k-labels-idx1-ubyte.gz", 5148,
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    },
    local_dirs=("/usr/share/datasets/fashion-mnist", "/usr/share/datasets/fashion_mnist"),
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    mirror_invariant=True,
)

DATASETS: dict[str, Dataset] = {d.name: d for d in (MNIST, FASHION_MNIST)}


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What the steps need to know of the configured dataset, public or the user's own."""
    name: str
    class_names: tuple[str, ...]
    mirror_invariant: bool
    custom: bool                      # declared in pipeline.yaml (data.datasets): no published checksum
    format: str = "idx"               # idx | images
    dark_on_light: bool = False


def dataset_info(data) -> DatasetInfo:
    """data: the `data` section of the config (pipeline/sections.py DataSection)."""
    own = data.datasets.get(data.dataset)
    if own is not None:
        return DatasetInfo(data.dataset, tuple(own.class_names), own.mirror_invariant, True, own.format,
                           own.dark_on_light)
    ds = DATASETS[data.dataset]
    return DatasetInfo(ds.name, ds.class_names, ds.mirror_invariant, False)
