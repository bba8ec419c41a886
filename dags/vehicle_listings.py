"""
### vehicle_listings

Every day (unless `[vehicle_photos] daily_runs` is false), and when a dealer's file arrives if on-arrival starts
are set up (`vehicle_listings_on_arrival`), take the dealers' listing files of the date from
`s3://<bucket>/listings/dt=<date>/` once they are quiet, validate every row (bad rows go to `rejected/dt=<date>/`
with file, line and reason), and send each vehicle's photos through Car-Cutter (exterior shots) or Clipping Magic
(interior and detail shots; configurable). Register the vehicles, make their features and hotspots on Car-Cutter
match the listing, remove sold vehicles, and publish: manifest (Parquet + JSON), HTML report (the **Run report**
link on `publish_run`), listing files moved to `archive/dt=<date>/`. Other DAGs hear of it through the asset
aliases `vehicle_photos_manifest` (the event's extra: manifest key, date, counts, credits) and
`vehicle_photos_archive`, resolved to the deployment's `s3://<bucket>/<prefix>`; see
`vehicle_manifest_consumer_example`.

Every run plans over all the date's files (incoming and archived), so a rerun or a run for late files
publishes the whole date. An image processed before, on any date, run or retry, is never sent or billed
again: its record under `records/` is claimed before any billable call and points the manifest at its first
outputs. Each dealer's images are processed as its profile in `config/profiles.yaml` says (scene, logo,
plate, cut type, which angles go to which API, a credit budget per run); a batch holds one profile. Manual runs
take Params (vehicle subset, `dry_run` with the estimate per dealer, dealers whose changed profile may bill,
Clipping Magic test mode, cut type, batch size, the listing date); a manual run without a logical date or
`listing_date` uses the day it was triggered. Backfills and profiles: see the README.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import TaskGroup, dag, task

from include.alerts.notifiers import failed_date_callbacks, finish_deadline
from include.alerts.settings import AlertSettings
from include.arrivals.settings import ArrivalSettings
from include.dag_defaults import task_defaults
from include.pipeline import task_callables
from include.pipeline.assets import ARCHIVE_ALIAS, MANIFEST_ALIAS
from include.pipeline.listings_wait import ListingFilesSensor
from include.pipeline.operator_arguments import claim_arguments, source_limits, storage_arguments
from include.pipeline.params import vehicle_listings_params
from include.pools import CARCUTTER_POOL, CLIPPINGMAGIC_POOL, PUBLISH_POOL
from vehicle_photos.carcutter.operators.features_and_annotations import CarCutterSetFeaturesAndAnnotationsOperator
from vehicle_photos.carcutter.operators.process_images import CarCutterProcessImagesOperator
from vehicle_photos.carcutter.operators.vehicles import CarCutterDeleteVehiclesOperator
from vehicle_photos.clippingmagic.operators.auto_clip import ClippingMagicAutoClipOperator
from vehicle_photos.run_report import RunReportOperator

ALERTS = AlertSettings.from_config()
ARRIVALS = ArrivalSettings.from_config()


@dag(
    schedule="@daily" if ARRIVALS.daily_runs else None,
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    deadline=finish_deadline(ALERTS),
    tags=["vehicle-photos", "carcutter", "clippingmagic"],
    doc_md=__doc__,
    default_args=task_defaults(3, pendulum.duration(seconds=30), execution_timeout=pendulum.duration(minutes=30)),
    params=vehicle_listings_params(),
)
def vehicle_listings() -> None:
    # the run's settings, then its listing files: one XCom per setting, as multiple_outputs would give
    wait = ListingFilesSensor(task_id="wait_for_listings", execution_timeout=pendulum.duration(minutes=5), retries=1)
    settings = wait.output
    batches = task(task_callables.plan_run, execution_timeout=pendulum.duration(hours=1))(settings)

    image_arguments = {**storage_arguments(settings), **source_limits(settings), **claim_arguments(settings)}
    with TaskGroup("carcutter", tooltip="Car-Cutter: vehicles, exterior images, features, hotspots"):
        # registers the batch's vehicles, then submits their images
        carcutter = CarCutterProcessImagesOperator.partial(
            task_id="process_images",
            pool=CARCUTTER_POOL,
            # the images first: features and hotspots take the slots the image batches leave (while deferred)
            priority_weight=10,
            **image_arguments,
            poll_interval=settings["carcutter_poll_interval"],
            first_poll_delay=settings["carcutter_first_poll_delay"],
            wait_in_task_seconds=settings["carcutter_wait_in_task_seconds"],
            max_failure_ratio=0.1,
            execution_timeout=pendulum.duration(hours=1),
        ).expand_kwargs(batches.map(task_callables.process_carcutter_images_input))
        # beside the images: features and hotspots need no registered vehicle
        features = CarCutterSetFeaturesAndAnnotationsOperator.partial(
            task_id="set_features_and_hotspots", pool=CARCUTTER_POOL
        ).expand_kwargs(batches.map(task_callables.set_features_and_hotspots_input))
        deleted = CarCutterDeleteVehiclesOperator(
            task_id="delete_gone_vehicles", pool=CARCUTTER_POOL, vehicles=settings["gone_vehicles_uri"]
        )
        batches >> deleted

    with TaskGroup("clippingmagic", tooltip="Clipping Magic: interior and detail images, composites"):
        clippingmagic = ClippingMagicAutoClipOperator.partial(
            task_id="autoclip_images",
            pool=CLIPPINGMAGIC_POOL,
            **image_arguments,
            test=settings["clippingmagic_test_mode"],
            max_failure_ratio=0.1,
            execution_timeout=pendulum.duration(hours=2),
        ).expand_kwargs(batches.map(task_callables.autoclip_images_input))
        composites = (
            task(task_callables.make_composites, trigger_rule="all_done", execution_timeout=pendulum.duration(hours=1))
            .partial(settings=settings)
            .expand(batch=batches.map(task_callables.make_composites_input))
        )
        clippingmagic >> composites

    publish = RunReportOperator(
        task_id="publish_run",
        python_callable=task_callables.publish_run,
        op_kwargs={"settings": settings},
        outlets=[MANIFEST_ALIAS, ARCHIVE_ALIAS],
        pool=PUBLISH_POOL,
        trigger_rule="all_done",
        execution_timeout=pendulum.duration(hours=1),
    )
    [carcutter, clippingmagic, composites, features, deleted] >> publish
    # publish_run runs whatever happened upstream, so the run's state comes from this watcher, which also
    # sends the failed-date alert
    watcher = task(
        task_callables.fail_run_if_a_task_failed,
        trigger_rule="all_done",
        retries=0,
        execution_timeout=pendulum.duration(minutes=1),
        on_failure_callback=failed_date_callbacks(ALERTS),
    )()
    [wait, batches, carcutter, clippingmagic, composites, features, deleted, publish] >> watcher


vehicle_listings()
