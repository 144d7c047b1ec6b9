"""`python -m pipeline ...`: see cli/main.py."""
from cli.main import main

if __name__ == "__main__":
    from pipeline.shutdown import end_process
    end_process(main())   # sys.exit without the ~3 s teardown of TensorFlow, Beam and TFMA (pipeline/shutdown.py)
