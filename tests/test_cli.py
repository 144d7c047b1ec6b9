"""The run command: a mistyped pipeline flag is an error with a suggestion, never handed to Beam; a failed run
ends on its one-line error even when its log cannot be written."""
import os

import pytest

from cli.main import _our_flags, main
from pipeline.beamflags import split


@pytest.mark.parametrize("typo, suggestion", [("--no_cache", "--no-cache"), ("--runer", "--runner"),
                                               ("--job_endpont=localhost:1", "--job_endpoint")])
def test_mistyped_flag_is_an_error_with_a_suggestion(typo, suggestion, capsys):
    assert main(["run", typo]) == 2
    err = capsys.readouterr().err
    assert typo.split("=")[0] in err and f"did you mean {suggestion}?" in err


def test_beam_flags_pass_and_anything_after_the_separator_passes_unchecked():
    ours = _our_flags()
    assert "--no-cache" in ours and "--invalidate" in ours
    flags = ["--parallelism=2", "--flink_master=h:8081", "--job_endpoint", "h:8099", "--", "--my_option=1"]
    assert split(flags, ours) == ["--parallelism=2", "--flink_master=h:8081", "--job_endpoint", "h:8099",
                                  "--my_option=1"]
    with pytest.raises(ValueError, match="--paralelism"):
        split(["--paralelism=2", "--", "--x"], ours)


def test_a_relative_root_is_made_absolute_for_workers_of_a_remote_runner():
    import os

    from cli.config import load_config
    from ops.workers import root_for_workers as _root_for_workers
    cfg = load_config(None, ["pipeline.root=rel/root"])
    assert _root_for_workers(cfg, ["--runner=FnApiRunner"]).pipeline.root == "rel/root"
    assert _root_for_workers(cfg, ["--runner=FlinkRunner"]).pipeline.root == os.path.abspath("rel/root")
    remote = load_config(None, ["pipeline.root=gs://bucket/root", "pipeline.metadata=m.sqlite"])
    assert _root_for_workers(remote, ["--runner=FlinkRunner"]).pipeline.root == "gs://bucket/root"


def test_no_extra_flags_means_beam_is_not_imported_to_check_them():
    # A cached run never needs Beam; listing its flags imported it (2-3 s of a 4 s run).
    import subprocess
    import sys
    code = ("import sys; from pipeline.beamflags import split; "
            "assert split([], []) == [] and split(['--', '--x=1'], []) == ['--x=1']; "
            "print('apache_beam' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_trace_that_cannot_be_written_is_not_a_second_error():
    """/dev/full refuses every write with ENOSPC, as a full disk does: the trace is dropped, nothing raised."""
    from cli.main import keep_trace
    try:
        raise RuntimeError("a step failed")
    except RuntimeError:
        assert keep_trace("/dev/full") is False
        assert keep_trace(os.devnull) is True


@pytest.mark.parametrize("store, start", [("pods", "make cluster-up"), ("local", "make gcs-up")])
def test_an_object_store_that_does_not_answer_is_one_line(store, start, tmp_path, capsys, monkeypatch):
    """pipeline.object_store names a local test store: the command sets its variables for itself (never the
    shell's, issue #39), so a store that is not up is a config error at once, not a proxy error later."""
    import shutil
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    shutil.copy(os.path.join(repo, "pipeline.yaml"), tmp_path / "pipeline.yaml")
    monkeypatch.chdir(tmp_path)   # no build/gcs/state.json here: no local store recorded
    before = dict(os.environ)
    assert main(["runs", "--set", "pipeline.root=gs://bkt/root", "--set", "pipeline.metadata=m.sqlite",
                 "--set", f"pipeline.object_store={store}"]) == 2
    err = capsys.readouterr().err
    assert f"error: pipeline.object_store: {store}: no object store answers; start it with `{start}`" in err
    assert dict(os.environ) == before


def test_a_java_flink_option_beam_python_does_not_declare_reaches_the_job_server():
    """--execution_mode_for_batch is a Java option Beam's Python SDK does not declare: PortableRunner would drop
    it without a word. Declared, it is accepted on the command line and in the options sent to the job server,
    and absent where nobody set it."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.beamflags import beam_option_names, declare_java_flink_options
    declare_java_flink_options()
    assert "--execution_mode_for_batch" in beam_option_names()
    flags = ["--runner=FlinkRunner", "--execution_mode_for_batch=BATCH_FORCED"]
    sent = PipelineOptions(flags).get_all_options(drop_default=True, retain_unknown_options=False)
    assert sent.get("execution_mode_for_batch") == "BATCH_FORCED"
    assert "execution_mode_for_batch" not in PipelineOptions(["--runner=FnApiRunner"]).get_all_options(drop_default=True)
