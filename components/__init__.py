"""Pipeline components, one package per step (component.py declares, executor.py does the work)."""
import os

# Beam workers import this package without going through the CLI: fix Keras 2 before any TF import.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
