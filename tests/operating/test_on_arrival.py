"""On-arrival starts through real processes: moto's server delivers the bucket's `s3:ObjectCreated:*`
notifications for `listings/` to an SQS queue, Airflow's triggerer watches it (the asset's `MessageQueueTrigger`),
the scheduler runs `vehicle_listings_on_arrival` on each batch, and that starts `vehicle_listings` runs.

First with `vehicle_listings` running: a file for a date starts a run for it, which waits until the prefix is
quiet and plans; a file for the same date after that starts one follow-up run. Then with `vehicle_listings`
paused, so that no run plans (as during a quiet period): one file starts one run, ten files for a date and one
more once its run exists start one run, and a file for a date whose run (here a manual one with that logical
date) has not planned starts none.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.operating.scheduled_airflow import ScheduledAirflow, scheduled_airflow

pytestmark = pytest.mark.timeout(600)

LISTINGS = "vehicle_listings"
DISPATCHER = "vehicle_listings_on_arrival"
ARRIVALS_ASSET = "vehicle_listings_arrivals"
QUIET_SECONDS = 3
FOLLOW_UP_DATE, ONE_FILE_DATE, BURST_DATE, WAITING_DATE = "2026-11-23", "2026-11-21", "2026-11-22", "2026-11-24"
HEADER_ONLY_CSV = b"vehicle_id,make,model,images\n"  # a dealer with nothing listed: a run plans it at once
START_TIMEOUT = 120  # seconds from a file's upload to its run


@pytest.fixture
def listings_queue(local_stack, bucket) -> Iterator[str]:
    """A queue receiving `bucket`'s ObjectCreated notifications for listings/ (S3's test event comes first)."""
    sqs = local_stack.sqs_client()
    url = sqs.create_queue(QueueName=f"listings-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    local_stack.s3_client().put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": [{
            "QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "listings/"}]}},
        }]},
    )  # fmt: skip
    yield url
    sqs.delete_queue(QueueUrl=url)


def test_arrivals_start_one_run_per_date_and_a_follow_up_after_planning(
    local_stack, bucket, s3_client, listings_queue, tmp_path
):
    settings = {
        "AIRFLOW__VEHICLE_PHOTOS__LISTINGS_QUEUE_URL": listings_queue,
        "AIRFLOW__VEHICLE_PHOTOS__LISTINGS_QUEUE_WAIT_SECONDS": "1",
        "AIRFLOW__VEHICLE_PHOTOS__LISTINGS_QUEUE_POLL_SECONDS": "1",
        "AIRFLOW__VEHICLE_PHOTOS__DAILY_RUNS": "false",  # only the runs the arrivals start
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",  # the watcher registers once its DAG is unpaused
        "AIRFLOW_VAR_VEHICLE_PHOTOS_BUCKET": bucket,
        "AIRFLOW_VAR_VEHICLE_PHOTOS_LISTINGS_QUIET_SECONDS": str(QUIET_SECONDS),
    }
    sent = 1  # S3's test event

    def put(listing_date: str, name: str) -> None:
        nonlocal sent
        s3_client.put_object(Bucket=bucket, Key=f"listings/dt={listing_date}/{name}", Body=HEADER_ONLY_CSV)
        sent += 1

    with scheduled_airflow(tmp_path / "airflow", local_stack.environment(), settings, (LISTINGS, DISPATCHER),
                           triggerer=True) as airflow:  # fmt: skip
        airflow.set_paused(DISPATCHER, False)
        airflow.set_paused(LISTINGS, False)
        wait_for(lambda: watcher_triggers(airflow), 120, "the listings queue's watcher", airflow)

        put(FOLLOW_UP_DATE, "dealer-a.csv")
        (uploaded,) = s3_client.list_objects_v2(Bucket=bucket, Prefix=f"listings/dt={FOLLOW_UP_DATE}/")["Contents"]
        first = wait_for(lambda: on_arrival_runs(airflow, FOLLOW_UP_DATE), START_TIMEOUT, "a run on arrival", airflow)
        plan = wait_for(lambda: started_plan(airflow, first[0][0]), 120, "the run's plan_run", airflow)
        put(FOLLOW_UP_DATE, "dealer-b.csv")  # after planning: only a new run sees it
        wait_for(lambda: len(on_arrival_runs(airflow, FOLLOW_UP_DATE)) == 2, START_TIMEOUT, "a follow-up", airflow)
        prepared = {key: prepared_setting(airflow, first[0][0], key) for key in ("listing_date", "incoming_prefix")}

        airflow.set_paused(LISTINGS, True)  # no run plans from here on
        airflow.api("POST", f"dags/{LISTINGS}/dagRuns", logical_date=f"{WAITING_DATE}T00:00:00Z")
        put(ONE_FILE_DATE, "dealer-a.csv")
        for dealer in range(10):
            put(BURST_DATE, f"dealer={dealer}/export.csv")
        put(WAITING_DATE, "dealer-a.csv")
        wait_for(lambda: on_arrival_runs(airflow, BURST_DATE), START_TIMEOUT, "a run for the burst", airflow)
        put(BURST_DATE, "dealer=10/export.csv")  # its run exists and has not planned: it will see this one too
        wait_for(lambda: dispatched(airflow, sent), 180, f"all {sent} messages dispatched", airflow)

        runs = {day: on_arrival_runs(airflow, day) for day in (FOLLOW_UP_DATE, ONE_FILE_DATE, BURST_DATE, WAITING_DATE)}
        waiting_date_runs = airflow.query("SELECT run_id FROM dag_run WHERE dag_id = %s AND logical_date = %s",
                                          LISTINGS, f"{WAITING_DATE}T00:00:00+00:00")  # fmt: skip
        dispatcher_runs = airflow.query("SELECT state FROM dag_run WHERE dag_id = %s", DISPATCHER)
        failed_tasks = airflow.query("SELECT task_id, map_index FROM task_instance WHERE dag_id = %s AND state NOT "
                                     "IN ('success', 'skipped')", DISPATCHER)  # fmt: skip

    def follow_up(n: int) -> tuple[str, dict[str, str]]:
        return (f"on_arrival__{FOLLOW_UP_DATE}__{n}", {"listing_date": FOLLOW_UP_DATE})

    assert runs[FOLLOW_UP_DATE] == [follow_up(1), follow_up(2)]
    assert runs[ONE_FILE_DATE] == [(f"on_arrival__{ONE_FILE_DATE}__1", {"listing_date": ONE_FILE_DATE})]
    assert runs[BURST_DATE] == [(f"on_arrival__{BURST_DATE}__1", {"listing_date": BURST_DATE})]
    assert runs[WAITING_DATE] == [] and len(waiting_date_runs) == 1  # its manual run will see the file
    assert {state for (state,) in dispatcher_runs} == {"success"} and failed_tasks == []
    # the run on arrival is a run of its date, and it planned only once the prefix was quiet
    assert (prepared["listing_date"], prepared["incoming_prefix"]) == (FOLLOW_UP_DATE, f"listings/dt={FOLLOW_UP_DATE}/")
    assert plan >= uploaded["LastModified"] + timedelta(seconds=QUIET_SECONDS)


def wait_for(condition: Any, timeout: float, what: str, airflow: ScheduledAirflow) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(1)
    raise TimeoutError(f"no {what} within {timeout:.0f}s; logs in {airflow.home}")


def watcher_triggers(airflow: ScheduledAirflow) -> list[tuple]:
    return airflow.query("SELECT t.classpath FROM trigger t JOIN asset_watcher w ON w.trigger_id = t.id "
                         "JOIN asset a ON a.id = w.asset_id WHERE a.name = %s AND t.triggerer_id IS NOT NULL",
                         ARRIVALS_ASSET)  # fmt: skip


def on_arrival_runs(airflow: ScheduledAirflow, listing_date: str) -> list[tuple[str, Any]]:
    rows = airflow.query("SELECT run_id, conf FROM dag_run WHERE dag_id = %s AND run_id LIKE %s ORDER BY run_id",
                         LISTINGS, f"on_arrival\\_\\_{listing_date}\\_\\_%")  # fmt: skip
    return [(run_id, _json(conf)) for run_id, conf in rows]


def started_plan(airflow: ScheduledAirflow, run_id: str) -> Any:
    """plan_run's start, once it has started."""
    rows = airflow.query("SELECT start_date FROM task_instance WHERE dag_id = %s AND run_id = %s AND task_id = "
                         "'plan_run' AND state IN ('running', 'success', 'failed')", LISTINGS, run_id)  # fmt: skip
    return rows[0][0] if rows else None


def prepared_setting(airflow: ScheduledAirflow, run_id: str, key: str) -> Any:
    """A setting of the run, as wait_for_listings pushed it."""
    sql = "SELECT value FROM xcom WHERE dag_id = %s AND run_id = %s AND task_id = 'wait_for_listings' AND key = %s"
    rows = airflow.query(sql, LISTINGS, run_id, key)
    return rows[0][0] if rows else None  # a JSON column: psycopg2 decodes it


def dispatched(airflow: ScheduledAirflow, messages: int) -> bool:
    """Every message is in an event of the asset, and the dispatcher has nothing left to do about them."""
    events = airflow.query("SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.name = %s",
                           ARRIVALS_ASSET)  # fmt: skip
    delivered = sum(len(_json(extra)["payload"]["message_batch"]) for (extra,) in events)
    queued = airflow.query("SELECT 1 FROM asset_dag_run_queue WHERE target_dag_id = %s", DISPATCHER)
    active = airflow.query("SELECT 1 FROM dag_run WHERE dag_id = %s AND state IN ('queued', 'running')", DISPATCHER)
    return delivered == messages and not queued and not active


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
