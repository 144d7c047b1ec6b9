"""Orchestrators that launch the pipeline's steps as tasks: Airflow 3, Kubeflow Pipelines / Vertex AI
(docs/orchestration.md). A layer on top of the CLI: it launches `python -m pipeline begin | step | finish`."""
