"""The pipeline as an Airflow 3 DAG file: every step a BashOperator task running `python -m pipeline step`,
the DAG's edges the steps' inputs, begin's run id handed to every task, retries that resume the step, the
schedule and retries from pipeline.yaml's `orchestration:` section. The file imports only Airflow (the
scheduler parses it often); the tasks run this project's own venv.

    python -m pipeline airflow-dag --output ~/airflow/dags/mnist_lstm.py [--config ... --set ...]
"""
from __future__ import annotations

import datetime

from orchestration.tasks import BEGIN, FINISH, RUN_ID_VAR, python_of, shell, tasks

TEMPLATE = '''"""Airflow 3 DAG of the MNIST LSTM pipeline, written by `python -m pipeline airflow-dag` on {today}
from {config}. Write it again when the pipeline's steps or its config change (every task carries the config
flags; a task whose config differs from its run's begin is refused).

Each step is a task running `python -m pipeline step <name> --run-id $PIPELINE_RUN_ID`; `begin` prints the
run id (its XCom) and `finish` writes the summary, the report and runs/latest, and fails the DAG run if a
step did. A task's retry runs the step again: what it finished is reused, what it left half-done is removed.
"""
import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

# task -> (command, upstream tasks)
TASKS = {tasks}

with DAG(
    dag_id={dag_id!r},
    schedule={schedule!r},
    start_date=datetime.datetime({start.year}, {start.month}, {start.day}, tzinfo=datetime.timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={{"retries": {retries}, "retry_delay": datetime.timedelta(seconds={retry_delay_s})}},
    tags=["mnist-lstm"],
) as dag:
    made = {{}}
    for name, (command, upstream) in TASKS.items():
        made[name] = BashOperator(
            task_id=name,
            bash_command=command,
            env={{{run_id_var!r}: "{{{{ ti.xcom_pull(task_ids='{begin}') }}}}"}},
            append_env=True,
            trigger_rule="all_done" if name == {finish!r} else "all_success",
            # a step whose data says stop (exit 3: the validator's anomalies) is not retried: the steps after
            # it are skipped, and finish records the run as stopped and fails the DAG run with the reason
            skip_on_exit_code=None if name == {finish!r} else 3,
        )
        for up in upstream:
            made[up] >> made[name]
'''


def render(cfg, config_args: tuple, config: str) -> str:
    """The DAG file's text."""
    python = python_of(cfg)
    o = cfg.orchestration
    listed = "{\n" + "".join(f"    {t.name!r}: ({shell(python, t)!r}, {t.upstream!r}),\n"
                             for t in tasks(cfg, config_args)) + "}"
    return TEMPLATE.format(today=datetime.date.today().isoformat(), config=config, tasks=listed, dag_id=o.dag_id,
                           schedule=o.schedule, start=datetime.date.fromisoformat(o.start_date), retries=o.retries,
                           retry_delay_s=o.retry_delay_s, run_id_var=RUN_ID_VAR, begin=BEGIN, finish=FINISH)
