"""The serving probe: run by the InfraValidator as `python -I probe.py REQUEST.json`, in an empty folder.

It imports TensorFlow and the standard library only, and first proves that none of the pipeline's
packages can be imported, so the model is served as a model server would: from its files alone.
REQUEST.json: {"model": dir, "records": TFRecord file of serialized raw examples, "batch_size": n,
"repeats": n, "out": result file}. The result: {"classes": [...], "latency_ms": [...], "signature": {...}}.
"""
import importlib.util
import json
import os
import sys
import time


def main(request_path):
    with open(request_path) as f:
        req = json.load(f)
    leaked = [m for m in ("pipeline", "components", "contract", "data") if importlib.util.find_spec(m)]
    if leaked:
        raise SystemExit(f"not a clean process: {leaked} importable")
    import tensorflow as tf

    loaded = tf.saved_model.load(req["model"], tags=["serve"])
    if "serving_default" not in loaded.signatures:
        raise SystemExit(f"no serving_default signature; the model has {sorted(loaded.signatures)}")
    serve = loaded.signatures["serving_default"]
    inputs = serve.structured_input_signature[1]
    if list(inputs) != ["examples"] or inputs["examples"].dtype != tf.string:
        raise SystemExit(f"serving_default takes {inputs}; expected one string tensor 'examples' (serialized records)")
    records = [r.numpy() for r in tf.data.TFRecordDataset(req["records"])]
    size = req["batch_size"]
    batches = [tf.constant(records[i:i + size]) for i in range(0, len(records), size)]
    classes, latency = [], []
    for rep in range(req["repeats"] + 1):     # pass 0 warms up (graph tracing) and is not timed
        for batch in batches:
            start = time.perf_counter()
            out = serve(examples=batch)
            took = (time.perf_counter() - start) * 1000
            if rep == 0:
                key = "classes" if "classes" in out else "probabilities"
                got = out[key].numpy()
                classes += [int(c) for c in (got if key == "classes" else got.argmax(axis=-1))]
            else:
                latency.append(took)
    result = {"classes": classes, "latency_ms": latency,
              "signature": {"inputs": sorted(inputs), "outputs": sorted(serve.structured_outputs)},
              "tensorflow": tf.__version__}
    with open(req["out"], "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
    # The result is written and closed: end without TensorFlow's teardown, about 3 s of the second core
    # while the evaluator runs beside this probe (pipeline/shutdown.py does the same for the pipeline).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
