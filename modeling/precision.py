"""`trainer.precision: auto`: bfloat16 compute only where the hardware runs it natively, float32 elsewhere.

bfloat16 matmuls with float32 weights (Keras' mixed_bfloat16) were about 1.8x faster per step on a CPU with
AVX512_BF16; on a CPU without it, TensorFlow emulates bfloat16 and the same setting is slower than float32.
So the choice is made here, from the machine, and recorded with its reason in the trainer's facts.

    python -c "from modeling.precision import choose; print(choose('auto'))"
"""
from __future__ import annotations

import os

NATIVE_BF16 = ("avx512_bf16", "amx_bf16")   # /proc/cpuinfo flags of CPUs with bfloat16 arithmetic


def cpu_flags(path: str = "/proc/cpuinfo") -> set[str]:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def visible_gpus(proc: str = "/proc/driver/nvidia/gpus") -> int:
    """The GPUs TensorFlow's CUDA build would see, without importing TensorFlow (the driver resolves `auto`
    before hashing the trainer's parameters): NVIDIA's driver entries, less those CUDA_VISIBLE_DEVICES hides."""
    try:
        count = len(os.listdir(proc))
    except OSError:
        return 0
    shown = os.environ.get("CUDA_VISIBLE_DEVICES")
    if shown is not None:
        ids = [i for i in shown.split(",") if i.strip()]
        count = min(count, len(ids[:ids.index("-1")] if "-1" in ids else ids))
    return count


def resolve(setting: str) -> dict:
    """The trainer's precision parameters, decided on the driver from this machine and hashed with the rest:
    a cached model trained in float32 is not reused where `auto` now means bfloat16, or the reverse."""
    policy, why = choose(setting, gpus=visible_gpus())
    return {"precision": policy, "precision_reason": why}


def choose(setting: str, flags: set[str] | None = None, gpus: int | None = None) -> tuple[str, str]:
    """-> (keras policy, why). setting: float32 | mixed_bfloat16 | auto."""
    if setting != "auto":
        return setting, "set in pipeline.yaml (trainer.precision)"
    if gpus is None:
        import tensorflow as tf
        gpus = len(tf.config.list_physical_devices("GPU"))
    if gpus:
        return "mixed_bfloat16", f"auto: {gpus} GPU(s) visible"
    flags = cpu_flags() if flags is None else flags
    native = [f for f in NATIVE_BF16 if f in flags]
    if native:
        return "mixed_bfloat16", f"auto: the CPU has {' and '.join(native)} (native bfloat16)"
    return "float32", "auto: the CPU has no avx512_bf16 or amx_bf16, so bfloat16 would be emulated (slower)"
