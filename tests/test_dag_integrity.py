"""Every DAG file imports cleanly through Airflow's DagBag, does no network or lookups at parse time,
and carries the metadata an operator of the deployment needs (tags, owner, retries, docs)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

DAGS_FOLDER = Path(__file__).resolve().parents[1] / "dags"


class ParseTimeAccess(AssertionError):
    """A DAG file reached for the network, a Connection or a Variable while being parsed."""


def parsed_without_lookups(config: dict[str, str] | None = None) -> DagBag:
    """The DAGs folder through a DagBag, with `config` (environment) set and every lookup refused."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise ParseTimeAccess("DAG files must not open network connections or read connections/variables at import")

    with pytest.MonkeyPatch.context() as patch:
        for name, value in (config or {}).items():
            patch.setenv(name, value)
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket, "create_connection", refuse)
        patch.setattr(socket, "getaddrinfo", refuse)
        patch.setattr("airflow.sdk.Variable.get", refuse)
        patch.setattr("airflow.sdk.BaseHook.get_connection", refuse)
        return DagBag(dag_folder=str(DAGS_FOLDER))


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return parsed_without_lookups()


def test_every_dag_file_imports_without_error(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    dag_files = {p.name for p in DAGS_FOLDER.glob("*.py") if not p.name.startswith("_")}
    files_with_dags = {Path(dag.fileloc).name for dag in dagbag.dags.values()}
    assert dag_files <= files_with_dags, f"files without a DAG: {sorted(dag_files - files_with_dags)}"


def test_dags_exist(dagbag: DagBag) -> None:
    assert dagbag.dags, f"no DAG found in {DAGS_FOLDER}"


@pytest.mark.parametrize("attribute", ["tags", "doc_md"])
def test_every_dag_is_documented_and_tagged(dagbag: DagBag, attribute: str) -> None:
    missing = [dag_id for dag_id, dag in dagbag.dags.items() if not getattr(dag, attribute)]
    assert missing == [], f"DAGs without {attribute}: {missing}"


def test_every_dag_has_an_owner_and_retries(dagbag: DagBag) -> None:
    problems = [
        f"{dag_id}: default_args={dag.default_args}"
        for dag_id, dag in dagbag.dags.items()
        if dag.default_args.get("owner") in {None, "", "airflow"} or dag.default_args.get("retries", 0) < 1
    ]
    assert problems == []
    tasks = [(dag_id, task) for dag_id, dag in dagbag.dags.items() for task in dag.tasks]
    unowned = [f"{dag_id}.{task.task_id}" for dag_id, task in tasks if task.owner == "airflow"]
    assert unowned == []


def test_every_task_has_a_timeout(dagbag: DagBag) -> None:
    """No task can hang: each has an execution_timeout suited to its job."""
    missing = [f"{dag_id}.{task.task_id}" for dag_id, dag in dagbag.dags.items() for task in dag.tasks
               if task.execution_timeout is None]  # fmt: skip
    assert missing == []


def test_values_from_upstream_tasks_go_only_to_templated_fields(dagbag: DagBag) -> None:
    """An XComArg given to an argument that is not templated would reach the operator unresolved."""
    from airflow.sdk.definitions.xcom_arg import XComArg

    problems = []
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            given = {**vars(task), **getattr(task, "partial_kwargs", {})}
            problems += [
                f"{dag_id}.{task.task_id}.{name}"
                for name, value in given.items()
                if isinstance(value, XComArg) and name not in task.template_fields
            ]
    assert problems == []


def test_each_batch_task_takes_its_own_entry_of_the_plan(dagbag: DagBag) -> None:
    """plan_run writes one entry per task id into every batch, and each mapped task must take its own: a task
    id changed in the DAG (a TaskGroup prefixes its tasks' ids) but not in the planner would leave it no work."""
    from airflow.sdk.definitions.xcom_arg import MapXComArg

    from include.pipeline.plan_step import BATCH_TASKS, DELETE_TASK

    dag = dagbag.dags["vehicle_listings"]
    planned = list(BATCH_TASKS)
    assert {*planned, DELETE_TASK} <= set(dag.task_ids)
    batch = {task_id: task_id for task_id in planned}
    taken = {}
    for task in dag.tasks:
        expand_input = getattr(task, "op_kwargs_expand_input", None) or getattr(task, "expand_input", None)
        expanded = getattr(expand_input, "value", None)
        for arg in expanded.values() if isinstance(expanded, dict) else [expanded]:
            if isinstance(arg, MapXComArg) and arg.arg.operator.task_id == "plan_run":
                entry = batch
                for take in arg.callables:
                    entry = take(entry)
                taken[task.task_id] = entry
    assert taken == {task_id: task_id for task_id in planned}


def arrivals_asset(dag) -> object:
    (asset,) = dag.timetable.asset_condition.objects
    return asset


def test_the_image_batches_take_the_carcutter_pool_before_features_and_hotspots(dagbag: DagBag) -> None:
    """Both share the carcutter_api pool, whose slots are sized for the image batches (one per slot): features
    and hotspots must queue behind them, not start first and leave a batch waiting for a slot."""
    dag = dagbag.dags["vehicle_listings"]
    images, features = dag.get_task("carcutter.process_images"), dag.get_task("carcutter.set_features_and_hotspots")
    assert images.pool == features.pool
    assert images.weight_rule == features.weight_rule and images.downstream_task_ids == features.downstream_task_ids
    assert images.priority_weight > features.priority_weight  # so the total over the same downstream tasks is too


def test_without_a_listings_queue_nothing_watches_and_the_daily_schedule_stays(dagbag: DagBag) -> None:
    """The default: no queue configured, the on-arrival DAG parses, on an asset that nothing watches."""
    asset = arrivals_asset(dagbag.dags["vehicle_listings_on_arrival"])
    assert (asset.name, asset.watchers) == ("vehicle_listings_arrivals", [])
    assert dagbag.dags["vehicle_listings"].schedule == "@daily"


def test_a_listings_queue_is_watched_through_the_sqs_trigger() -> None:
    queue = "http://127.0.0.1:4566/123456789012/vehicle-listings"  # a local endpoint, not an amazonaws.com URL
    bag = parsed_without_lookups({
        "AIRFLOW__VEHICLE_PHOTOS__LISTINGS_QUEUE_URL": queue,
        "AIRFLOW__VEHICLE_PHOTOS__LISTINGS_QUEUE_AWS_CONN_ID": "aws_listings",
        "AIRFLOW__VEHICLE_PHOTOS__LISTINGS_QUEUE_REGION": "eu-west-1",
        "AIRFLOW__VEHICLE_PHOTOS__LISTINGS_QUEUE_WAIT_SECONDS": "5",
        "AIRFLOW__VEHICLE_PHOTOS__DAILY_RUNS": "false",
    })  # fmt: skip
    assert bag.import_errors == {}
    (watcher,) = arrivals_asset(bag.dags["vehicle_listings_on_arrival"]).watchers
    classpath, kwargs = watcher.trigger.serialize()
    assert classpath == "airflow.providers.amazon.aws.triggers.sqs.SqsSensorTrigger"
    assert (kwargs["sqs_queue"], kwargs["aws_conn_id"], kwargs["region_name"]) == (queue, "aws_listings", "eu-west-1")
    assert (kwargs["wait_time_seconds"], kwargs["max_messages"], kwargs["delete_message_on_reception"]) == (5, 10, True)
    assert bag.dags["vehicle_listings"].schedule is None  # on arrival (and by hand) only
