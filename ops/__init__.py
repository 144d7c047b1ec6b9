"""Operations around the pipeline: local services it can run against (the object store of ops/gcs.py).
The pipeline's core and its components never import this package; the CLI, tests and benchmarks do."""
