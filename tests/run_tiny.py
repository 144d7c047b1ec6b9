"""Run the pipeline CLI in this process on a generated dataset folder (for tests that need a real
separate process, e.g. to SIGKILL it). Usage: python tests/run_tiny.py IDX_FOLDER CLI_ARGS..."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.conftest import NAMES, register  # noqa: E402

if __name__ == "__main__":
    folder = sys.argv[1]
    register("tiny", {role: os.path.join(folder, name) for role, name in NAMES.items()})
    from cli.main import main
    sys.exit(main(sys.argv[2:]))
