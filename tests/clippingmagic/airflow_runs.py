"""Run a DAG file through Airflow's own runner (`dag.test()`: tasks, XCom, deferral with its trigger)."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from typing import Any

DAG_HEADER = """
import pendulum
from airflow.sdk import DAG, task
from vehicle_photos.clippingmagic.operators.account import ClippingMagicAccountOperator
from vehicle_photos.clippingmagic.operators.auto_clip import ClippingMagicAutoClipOperator
from vehicle_photos.clippingmagic.operators.delete import ClippingMagicDeleteOperator
from vehicle_photos.clippingmagic.operators.download import ClippingMagicDownloadOperator
from vehicle_photos.clippingmagic.operators.review import ClippingMagicUploadForReviewOperator
from vehicle_photos.clippingmagic.sensors.result import ClippingMagicResultSensor

START = pendulum.datetime(2025, 1, 1, tz="UTC")
"""


def run_dag(folder: Path, monkeypatch: Any, dag_id: str, body: str) -> Any:
    """Write `body` (tasks inside `with DAG(...)`) as a DAG file in `folder`, make it the DAGs folder, run it."""
    import airflow.settings

    source = DAG_HEADER + f"\nwith DAG({dag_id!r}, schedule=None, start_date=START) as dag:\n"
    source += textwrap.indent(textwrap.dedent(body).strip(), "    ") + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dag_id}.py"
    path.write_text(source)
    monkeypatch.setattr(airflow.settings, "DAGS_FOLDER", str(folder))
    spec = importlib.util.spec_from_file_location(f"cm_test_dag_{dag_id}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag.test()


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def xcom(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(select(XComModel).where(*_of_task(XComModel, dag_run, task_id), XComModel.key == key))
        found = row.first()
        return None if found is None else XComModel.deserialize_value(found)


def run_supervised(dag_run: Any, task_id: str, log_path: Path) -> str:
    """Run one task of an existing DAG run again the way a worker does (a supervisor process forking the task,
    writing the task log file), and return that log. The DAGs folder must still point at the DAG's file."""
    from airflow.executors import workloads
    from airflow.executors.workloads import BundleInfo
    from airflow.models.taskinstance import TaskInstance
    from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor, supervise_task
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    with create_session() as session:
        ti = session.scalars(select(TaskInstance).where(*_of_task(TaskInstance, dag_run, task_id))).one()
        ti.state = TaskInstanceState.QUEUED
        ti.try_number += 1
        session.flush()
        workload = workloads.ExecuteTask.make(
            ti, dag_rel_path=Path(f"{dag_run.dag_id}.py"), bundle_info=BundleInfo(name="dags-folder")
        )
    exit_code = supervise_task(
        ti=workload.ti,
        bundle_info=workload.bundle_info,
        dag_rel_path=workload.dag_rel_path,
        token=workload.token,
        client=InProcessTestSupervisor._api_client(),  # the execution API served in this process
        log_path=str(log_path),
    )
    log = log_path.read_text()
    assert exit_code == 0, log[-3000:]
    return log


def _of_task(model: Any, dag_run: Any, task_id: str) -> tuple[Any, ...]:
    """The conditions selecting one task's rows of `model` in `dag_run`."""
    return model.dag_id == dag_run.dag_id, model.run_id == dag_run.run_id, model.task_id == task_id
