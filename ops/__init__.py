"""Cluster operations: the local Flink cluster and Beam's job server (flink.py, flink_dist.py), the worker
image and the podman service of the DOCKER environment (worker_image.py, podman_service.py), the warm SDK
worker pools (workers.py, worker_pool.py), the pods of k8s/ (cluster.py) and the object store (gcs.py).
The core (pipeline/) and the components never import this package; the runner receives what a runner profile
needs through ops/services.py, which the CLI picks. tests/test_layers.py checks it."""
