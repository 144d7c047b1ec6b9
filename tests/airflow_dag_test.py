"""Run one DAG run of a DAG file with the real Airflow engine, in Airflow's own venv (make airflow-venv):
`dag.test()` runs every task in this process's executor on the SQLite database of $AIRFLOW_HOME (migrated
first), with retries. Prints the DAG run's state and each task's state and tries as one JSON line.

    AIRFLOW_HOME=/tmp/af build/airflow/venv/bin/python tests/airflow_dag_test.py $AIRFLOW_HOME/dags/mnist_lstm.py
"""
import importlib.util
import json
import os
import subprocess
import sys


def main(path: str) -> int:
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True)
    spec = importlib.util.spec_from_file_location("dag_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    run = module.dag.test()
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    with create_session() as session:
        tis = session.query(TaskInstance).filter(TaskInstance.dag_id == module.dag.dag_id,
                                                 TaskInstance.run_id == run.run_id).all()
        tasks = {t.task_id: {"state": str(t.state), "tries": t.try_number} for t in tis}
    print("RESULT " + json.dumps({"state": str(run.state), "run_id": run.run_id, "tasks": tasks}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
