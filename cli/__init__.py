"""The pipeline as a program: its DAG (cli/dag.py), the command line (cli/main.py) and the user commands
built on the core (pipeline/), the components and the cluster operations (ops/)."""
