"""The gallery's errors and the serving check's canaries, picked once per batch inside TFMA's pass.

Both used to be TFMA metrics, so TFMA ran them once per example and per slice (8 slices per example),
in Python, although the gallery needs only the label slices and the canaries only the overall one.
This extractor taps TFMA's batched extracts (NumPy arrays of a whole batch, before TFMA unbatches
them), picks on whole batches, and writes one JSON file beside TFMA's output:

- `errors`: per true label, the `errors` wrong predictions of highest confidence (ties by image id);
- `canaries`: the `canaries` examples of lowest contract.records.canary_rank, with their predicted class.

    python -c "import json; print(json.load(open('pipeline_root/runs/RUN/evaluator/evaluation/picks.json'))['canaries'])"
"""
from __future__ import annotations

import heapq
import json

import apache_beam as beam
import numpy as np

from components.evaluator.config import PREDICTION_KEY
from contract.records import IMAGE_ID, canary_rank
from pipeline.artifacts import join, read_json

PICKS_FILE = "picks.json"


def _of_model(value, model_name: str):
    """A batched label or prediction of one model: extracts are keyed by model name when there are two."""
    if isinstance(value, dict) and model_name in value:
        value = value[model_name]
    if isinstance(value, dict):
        value = value[PREDICTION_KEY]
    return np.asarray(value)


def _push(heap: list, item, size: int) -> None:
    """Keep the `size` largest items in a min-heap."""
    if size <= 0:
        return
    if len(heap) < size:
        heapq.heappush(heap, item)
    elif item > heap[0]:
        heapq.heapreplace(heap, item)


class PicksCombineFn(beam.CombineFn):
    """Accumulator: {"canaries": heap of (-rank, image_id, predicted), "errors": {label: heap of
    (confidence, image_id, label, predicted)}}; inputs are TFMA's batched extracts."""

    def __init__(self, canaries: int, errors: int, model_name: str = ""):
        self._canaries, self._errors, self._model = canaries, errors, model_name

    def create_accumulator(self):
        return {"canaries": [], "errors": {}}

    def add_input(self, acc, extracts):
        ids = [v.decode() if isinstance(v, bytes) else str(v)
               for v in np.asarray(extracts["features"][IMAGE_ID]).reshape(-1)]
        labels = _of_model(extracts["labels"], self._model).reshape(-1).astype(np.int64)
        probs = _of_model(extracts["predictions"], self._model).reshape(len(ids), -1)
        predicted, confidence = probs.argmax(axis=1), probs.max(axis=1)
        for i in np.flatnonzero(predicted != labels):
            label = int(labels[i])
            _push(acc["errors"].setdefault(label, []),
                  (float(confidence[i]), ids[i], label, int(predicted[i])), self._errors)
        for image_id, cls in zip(ids, predicted):
            _push(acc["canaries"], (-canary_rank(image_id), image_id, int(cls)), self._canaries)
        return acc

    def merge_accumulators(self, accs):
        merged = self.create_accumulator()
        for acc in accs:
            for item in acc["canaries"]:
                _push(merged["canaries"], item, self._canaries)
            for label, heap in acc["errors"].items():
                for item in heap:
                    _push(merged["errors"].setdefault(label, []), item, self._errors)
        return merged

    def extract_output(self, acc):
        errors = {str(label): [{"image_id": i, "label": lab, "predicted": p, "confidence": round(c, 4)}
                               for c, i, lab, p in sorted(heap, reverse=True)]
                  for label, heap in sorted(acc["errors"].items())}
        canaries = [{"image_id": i, "predicted": p} for _, i, p in sorted(acc["canaries"], key=lambda t: t[1])]
        return {"errors": errors, "canaries": canaries}


@beam.ptransform_fn
def PickErrorsAndCanaries(extracts, canaries: int, errors: int, model_name: str = ""):  # noqa: N802
    """Batched extracts -> one dict (PicksCombineFn.extract_output), also over an empty split."""
    return extracts | "Combine" >> beam.CombineGlobally(PicksCombineFn(canaries, errors, model_name))


class _Tap(beam.PTransform):
    """Passes the extracts on unchanged; a branch writes the picks to `<output_dir>/picks.json`."""

    def __init__(self, output_dir: str, canaries: int, errors: int, model_name: str):
        super().__init__()
        self._out, self._args = output_dir, (canaries, errors, model_name)

    def expand(self, extracts):
        _ = (extracts
             | "Pick" >> PickErrorsAndCanaries(*self._args)
             | "ToJson" >> beam.Map(json.dumps, sort_keys=True)
             | "Write" >> beam.io.WriteToText(f"{self._out.rstrip('/')}/{PICKS_FILE}", num_shards=1,
                                              shard_name_template=""))
        return extracts


def with_picks(extractors: list, output_dir: str, canaries: int, errors: int, model_name: str) -> list:
    """TFMA's extractors with the tap inserted where extracts are still batched (before unbatching)."""
    import tensorflow_model_analysis as tfma
    names = [e.stage_name for e in extractors]
    at = names.index("ExtractUnbatchedInputs")
    tap = tfma.extractors.Extractor(stage_name="ExtractPicks",
                                    ptransform=_Tap(output_dir, canaries, errors, model_name))
    return extractors[:at] + [tap] + extractors[at:]


def read_picks(output_dir: str) -> dict:
    """What the tap wrote: {"errors": {label: [...]}, "canaries": [...]}."""
    return read_json(join(output_dir, PICKS_FILE))
