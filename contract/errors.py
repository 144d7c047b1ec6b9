"""The one base class of the errors a user can act on (a bad config or input, a cluster or store that is not
there): each carries the exit code a launcher returns and the word its one line starts with, so the CLI (and
an orchestrator's task) maps errors to codes in one place (cli/main.py), not by a hand-kept list of classes.
A step that fails while it works (a Beam job, a worker) raises something else: the CLI keeps its trace in
the log and exits 1. It lives in contract/ because every layer raises such errors and contract/ is the one
layer they all may import.

    python -c "from contract.errors import PipelineError; print(PipelineError.exit_code)"
"""
from __future__ import annotations


class PipelineError(Exception):
    """An error reported as one line, `<label>: <message>`, with exit code `exit_code`."""
    exit_code = 2
    label = "error"
