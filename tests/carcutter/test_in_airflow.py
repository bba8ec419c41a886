"""The deferrable operator run by Airflow itself: `dag.test()` runs the task, defers, runs the trigger in
line (as the triggerer would) and resumes the task from the event."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
from airflow.utils.state import TaskInstanceState

from tests.carcutter.conftest import CONN_ID, counts

LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"
DAG_FILE = """
import json
from datetime import datetime

from airflow.sdk import DAG

from vehicle_photos.carcutter.operators.process_images import CarCutterProcessImagesOperator

with DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    CarCutterProcessImagesOperator(task_id="process", **json.loads({arguments!r}))
"""


@pytest.fixture
def run_dag(airflow_home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write a one-task DAG into a DAG bundle of its own and `dag.test()` it; returns (state, XCom summary)."""
    bundles = [
        {"name": "dags-folder", "classpath": LOCAL_BUNDLE, "kwargs": {}},
        {"name": "carcutter-tests", "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(tmp_path)}},
    ]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))

    def run(dag_id: str, **arguments) -> tuple[str, list[dict] | None]:
        arguments = {
            "carcutter_conn_id": CONN_ID, "cut_type": "complete", "poll_interval": 0.1, "max_poll_interval": 0.3,
            "first_poll_delay": 0.3, "timeout": 60, "registration_grace_seconds": 2, **arguments,
        }  # fmt: skip
        path = tmp_path / f"{dag_id}.py"
        path.write_text(DAG_FILE.format(dag_id=dag_id, arguments=json.dumps(arguments)))
        spec = importlib.util.spec_from_file_location(dag_id, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        run = module.dag.test()
        with create_session() as session:
            query = XComModel.get_many(run_id=run.run_id, dag_ids=dag_id, task_ids="process", key="return_value")
            row = session.scalars(query).first()
            summary = XComModel.deserialize_value(row) if row is not None else None
        return run.get_task_instance("process").state, summary

    return run


def test_deferred_batch_completes_under_airflow(run_dag, carcutter, bucket, put_photos):
    images = put_photos(vehicles=2, per_vehicle=2)
    state, summary = run_dag("carcutter_process_images", images=images, dest_bucket=bucket)
    assert state == TaskInstanceState.SUCCESS
    assert [row["status"] for row in summary] == ["final"] * 4
    assert counts(carcutter)["asyncResult"] == 4


def test_credits_exhausted_stops_cleanly_with_what_was_done_recorded(run_dag, carcutter, bucket, s3_client, put_photos):
    carcutter.configure(credits=2)  # the first vehicle's request fits, the second is refused (402)
    images = put_photos(vehicles=2, per_vehicle=2)
    results_uri = f"s3://{bucket}/results.jsonl"
    state, _ = run_dag("carcutter_credits_exhausted", images=images, dest_bucket=bucket, results_uri=results_uri)
    assert state == TaskInstanceState.FAILED
    body = s3_client.get_object(Bucket=bucket, Key="results.jsonl")["Body"].read().decode()
    results = [json.loads(line) for line in body.splitlines()]  # written before the task failed
    by_vehicle = {row["vehicle_id"]: set() for row in results}
    for row in results:
        by_vehicle[row["vehicle_id"]].add(row["status"])
    assert sorted(map(sorted, by_vehicle.values())) == [["final"], ["skipped"]]  # one request billed, one refused
    assert all("credits" in row["error"].lower() for row in results if row["status"] == "skipped")
    assert counts(carcutter)["asyncSubmit"] == 2  # the refused request was not retried
    assert len(carcutter.ledger()["charges"]) == 2
