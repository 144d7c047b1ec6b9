"""The local cluster's classpath (ops/flink_dist.py cluster_lib): Flink's lib/ plus the Beam runner's jars, so
that a job ships none (docs/flink.md "Where a step's time goes"), without the jars whose classes flink-dist
already holds (an older copy ahead of flink-dist would shadow Flink's own).

    .venv/bin/python -m pytest -q tests/test_flink_dist.py
"""
import os

from ops import flink_dist


def _jars(folder, names):
    os.makedirs(folder)
    for name in names:
        open(os.path.join(folder, name), "w").close()


def test_the_cluster_classpath_is_flinks_lib_and_the_runners_jars_less_what_flink_has(tmp_path):
    flink_home, job_server = tmp_path / "flink", tmp_path / "jobserver"
    _jars(flink_home / "lib", ["flink-dist-1.19.3.jar", "log4j-core-2.17.1.jar"])
    _jars(job_server / "lib", ["beam-runners-flink-1.19-2.70.0.jar", "beam-sdks-java-core-2.70.0.jar",
                               "flink-runtime-1.19.0.jar", "slf4j-api-2.0.16.jar", "commons-io-2.11.0.jar",
                               "kryo-2.24.0.jar", "commons-lang3-3.18.0.jar", "notes.txt"])
    lib = flink_dist.cluster_lib(str(tmp_path / "home"), str(flink_home), str(job_server))
    jars = sorted(n for n in os.listdir(lib) if n.endswith(".jar"))
    assert jars == ["beam-runners-flink-1.19-2.70.0.jar", "beam-sdks-java-core-2.70.0.jar",
                    "commons-lang3-3.18.0.jar", "flink-dist-1.19.3.jar", "log4j-core-2.17.1.jar"]
    assert os.path.realpath(os.path.join(lib, "flink-dist-1.19.3.jar")) == str(flink_home / "lib" / "flink-dist-1.19.3.jar")
    # the same jars give the same folder; another set of jars another one
    assert flink_dist.cluster_lib(str(tmp_path / "home"), str(flink_home), str(job_server)) == lib
    open(job_server / "lib" / "beam-model-pipeline-2.70.0.jar", "w").close()
    assert flink_dist.cluster_lib(str(tmp_path / "home"), str(flink_home), str(job_server)) != lib
