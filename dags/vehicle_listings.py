"""
### vehicle_listings

Every day, take the dealers' listing files of the date from `s3://<bucket>/listings/dt=<ds>/`, validate
every row (bad rows go to `rejected/dt=<ds>/` with file, line and reason), and send each vehicle's photos
through Car-Cutter (exterior shots) or Clipping Magic (interior and detail shots; configurable). Register
the vehicles, make their features and hotspots on Car-Cutter match the listing, remove sold vehicles, and
publish: manifest (Parquet + JSON), HTML report (the **Run report** link on `publish_run`), listing files
moved to `archive/dt=<ds>/`. The archive is the `vehicle_photos_archive` asset.

An image processed before, on any date, run or retry, is never sent or billed again: the image records
under `records/` point the manifest at its earlier outputs. Manual runs take Params (vehicle subset,
`dry_run`, Clipping Magic test mode, cut type, batch size); backfill with
`airflow backfill create --dag-id vehicle_listings --from-date 2026-11-01 --to-date 2026-11-07`.
"""

from __future__ import annotations

import pendulum
from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.sdk import Asset, dag, task

from carcutter.operators.hotspots import CarCutterSyncAnnotationsOperator, CarCutterSyncFeaturesOperator
from carcutter.operators.process_images import CarCutterProcessImagesOperator
from carcutter.operators.vehicles import CarCutterDeleteVehiclesOperator, CarCutterRegisterVehiclesOperator
from clippingmagic.operators.auto_clip import ClippingMagicAutoClipOperator
from include.pipeline import plan as planning
from include.pipeline import run_tasks
from include.pipeline.params import vehicle_listings_params
from include.pools import CARCUTTER_POOL, CLIPPINGMAGIC_POOL
from run_report import RunReportOperator

ARCHIVE = Asset(name="vehicle_photos_archive", uri="s3://vehicle-photos/archive/")


def setting(name: str) -> str:
    return f"{{{{ ti.xcom_pull(task_ids='resolve_settings')['{name}'] }}}}"


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,
    tags=["vehicle-photos", "carcutter", "clippingmagic"],
    doc_md=__doc__,
    default_args={"owner": "vehicle-photos", "retries": 2, "retry_delay": pendulum.duration(minutes=1)},
    params=vehicle_listings_params(),
)
def vehicle_listings() -> None:
    settings = task(run_tasks.resolve_settings)()
    prefix = task(run_tasks.locate_listings)(settings)
    wait = S3KeySensor(
        task_id="wait_for_listings",
        bucket_name=setting("bucket"),
        bucket_key="{{ ti.xcom_pull(task_ids='locate_listings') }}*",
        wildcard_match=True,
        deferrable=True,
        poke_interval=300,
        timeout=pendulum.duration(hours=20).total_seconds(),
    )
    plan = task(run_tasks.validate_and_plan)(settings, prefix)
    prefix >> wait >> plan
    go = task.short_circuit(run_tasks.preflight, ignore_downstream_trigger_rules=True)(settings, plan)
    batches = task(run_tasks.work_batches)(plan)
    go >> batches

    registered = CarCutterRegisterVehiclesOperator.partial(
        task_id="register_vehicles", pool=CARCUTTER_POOL
    ).expand(vehicles=batches.map(planning.vehicles_of))
    carcutter = CarCutterProcessImagesOperator.partial(
        task_id="process_carcutter_images",
        pool=CARCUTTER_POOL,
        dest_bucket=setting("bucket"),
        dest_prefix=setting("processed_prefix"),
        records_prefix=setting("records_prefix"),
        cut_type=setting("cut_type"),
        poll_interval=setting("carcutter_poll_interval"),
        first_poll_delay=setting("carcutter_first_poll_delay"),
    ).expand(images=batches.map(planning.carcutter_images_of))
    clippingmagic = ClippingMagicAutoClipOperator.partial(
        task_id="autoclip_images",
        pool=CLIPPINGMAGIC_POOL,
        dest_bucket=setting("bucket"),
        dest_prefix=setting("processed_prefix"),
        records_prefix=setting("records_prefix"),
        test=setting("clippingmagic_test_mode"),
        outputs=setting("clippingmagic_outputs"),
        max_failure_ratio=0.1,
    ).expand(source_keys=batches.map(planning.clippingmagic_images_of))
    features = CarCutterSyncFeaturesOperator.partial(task_id="sync_features", pool=CARCUTTER_POOL).expand(
        vehicles=batches.map(planning.features_of)
    )
    hotspots = CarCutterSyncAnnotationsOperator.partial(task_id="sync_hotspots", pool=CARCUTTER_POOL).expand(
        images=batches.map(planning.annotations_of)
    )
    registered >> [carcutter, features]
    carcutter >> hotspots
    deleted = CarCutterDeleteVehiclesOperator(
        task_id="delete_gone_vehicles",
        pool=CARCUTTER_POOL,
        vehicles="{{ ti.xcom_pull(task_ids='validate_and_plan')['gone_vehicles'] }}",
    )
    go >> deleted

    publish = RunReportOperator(
        task_id="publish_run",
        python_callable=run_tasks.publish_run,
        op_kwargs={"settings": settings, "plan": plan},
        outlets=[ARCHIVE],
        trigger_rule="all_done",
    )
    [carcutter, clippingmagic, features, hotspots, deleted] >> publish
    # publish_run runs whatever happened upstream, so the run's state comes from this watcher
    watcher = task(run_tasks.fail_run_if_a_task_failed, trigger_rule="one_failed", retries=0)()
    [registered, carcutter, clippingmagic, features, hotspots, deleted, publish] >> watcher


vehicle_listings()
