"""The `trainer:` section of pipeline.yaml, owned by this step (declared on its ComponentSpec; pipeline.yaml
documents every key with its default, the same as here)."""
from __future__ import annotations

import dataclasses
from typing import Optional


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

    # key -> (what a value must satisfy, what is expected: the error's words)
    CHECKS = {
        "cell_size": (lambda v: 1 <= v <= 4096, "1..4096"),
        "epochs": (lambda v: v >= 1, "at least 1"),
        "steps_per_epoch": (lambda v: v is None or v >= 1, "at least 1, or null"),
        "max_steps": (lambda v: v is None or v >= 1, "at least 1, or null"),
        "batch_size": (lambda v: v >= 1, "at least 1"),
        "learning_rate": (lambda v: 0 < v < 10, "a positive number below 10"),
        "shuffle_buffer": (lambda v: v >= 1, "at least 1"),
        "checkpoint_steps": (lambda v: v is None or v >= 1, "at least 1, or null"),
        "early_stopping": (lambda v: v is None or v >= 1, "at least 1 epoch, or null"),
        "dropout": (lambda v: 0 <= v < 1, "0 <= dropout < 1"),
        "pool": (lambda v: v in ("last", "last+max"), "'last' or 'last+max'"),
        "lr_schedule": (lambda v: v in ("constant", "cosine"), "'constant' or 'cosine'"),
        "augment": (lambda v: v in ("none", "auto") or (v and set(v.split("+")) <= {"shift", "mirror", "erase"}),
                                "'none', 'auto', or one or more of shift, mirror, erase joined by '+'"),
        "max_shift": (lambda v: 1 <= v <= 4, "1..4 pixels"),
        "tta": (lambda v: v in ("none", "mirror", "auto"), "'none', 'mirror' or 'auto'"),
        "label_smoothing": (lambda v: 0 <= v < 1, "0 <= label_smoothing < 1"),
        "weight_decay": (lambda v: 0 <= v < 1, "0 <= weight_decay < 1"),
        "ema": (lambda v: 0 <= v < 1, "0 <= ema < 1"),
        "step_filters": (lambda v: 0 <= v <= 256, "0..256 (0: the tutorial's Dense per step alone)"),
        "precision": (lambda v: v in ("auto", "float32", "mixed_bfloat16"), "'auto', 'float32' or 'mixed_bfloat16'"),
    }
