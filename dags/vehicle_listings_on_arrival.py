"""
### vehicle_listings_on_arrival

Starts `vehicle_listings` for a date when a dealer's listing file for it arrives. S3 sends the bucket's
`s3:ObjectCreated:*` notifications for `listings/` to an SQS queue (`[vehicle_photos] listings_queue_url`); the
asset `vehicle_listings_arrivals` watches it from the triggerer, and each batch of messages runs this DAG.

`runs_to_start` reads the messages (`triggering_asset_events`), takes the date from each key
`listings/dt=<date>/...` and, per date, starts a run `on_arrival__<date>__<n>` (Param `listing_date`) unless a
run of the date has not planned yet and will see the files anyway; `start_vehicle_listings` starts them. A
burst of files for a date starts one run, which waits until the date's prefix is quiet like any run; a file
for a date whose run planned already starts one follow-up run, queued behind it. Malformed messages, S3's test
event and keys of other prefixes or buckets are logged and skipped.

Without a queue configured the asset has no watcher and this DAG does not run. README "On-arrival starts".
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task

from include.arrivals import dispatch
from include.arrivals.asset import listing_arrivals_asset
from include.arrivals.settings import ArrivalSettings
from include.dag_defaults import task_defaults

ARRIVALS = listing_arrivals_asset(ArrivalSettings.from_config())


@dag(
    schedule=[ARRIVALS],
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # one decision at a time: each sees the runs the one before started
    tags=["vehicle-photos", "on-arrival"],
    doc_md=__doc__,
    default_args=task_defaults(3, pendulum.duration(seconds=10), execution_timeout=pendulum.duration(minutes=5)),
)
def vehicle_listings_on_arrival() -> None:
    starts = task(dispatch.runs_to_start_on_arrival, task_id="runs_to_start")()
    TriggerDagRunOperator.partial(
        task_id="start_vehicle_listings",
        trigger_dag_id=dispatch.LISTINGS_DAG_ID,
        logical_date=None,  # the run's date is its Param listing_date; the daily run keeps the logical date
        skip_when_already_exists=True,  # the same run id started by another decision: done
    ).expand_kwargs(starts)


vehicle_listings_on_arrival()
