"""
### api_housekeeping

Daily care of the two API accounts:

- **Clipping Magic credits**: fails, and e-mails `[vehicle_photos] alert_emails` (README "Operating it"), when the
  account has fewer credits than `min_credits` (Param, or Variable `vehicle_photos_clippingmagic_min_credits`).
- **Car-Cutter access**: the token still works (Car-Cutter publishes no credit balance; a run that runs
  out stops cleanly on the 402 and says so).
- **Clipping Magic storage**: deletes images from the service whose outputs are archived in S3 (their final
  record in the record index has outputs) and older than `delete_after_days`. Images with no such record,
  such as ones still waiting for a human edit, are never deleted.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from include.alerts.notifiers import task_failed_callbacks
from include.alerts.settings import AlertSettings
from include.dag_defaults import task_defaults
from include.pools import CARCUTTER_POOL, CLIPPINGMAGIC_POOL
from vehicle_photos.carcutter.hooks.carcutter import CarCutterHook
from vehicle_photos.clippingmagic.operators.account import ClippingMagicAccountOperator
from vehicle_photos.clippingmagic.operators.delete import ClippingMagicDeleteOperator

ALERTS = AlertSettings.from_config()


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    render_template_as_native_obj=True,
    tags=["vehicle-photos", "housekeeping", "carcutter", "clippingmagic"],
    doc_md=__doc__,
    default_args=task_defaults(1, pendulum.duration(minutes=5), execution_timeout=pendulum.duration(minutes=20)),
    params={
        "bucket": Param(None, type=["null", "string"], description="Default: Variable vehicle_photos_bucket"),
        "min_credits": Param(None, type=["null", "integer"], description="Default: Variable or 500"),
        "delete_after_days": Param(14, type="integer", minimum=0, description="Keep archived images this long"),
    },
)
def api_housekeeping() -> None:
    bucket = "{{ params.bucket or var.value.get('vehicle_photos_bucket', 'vehicle-photos') }}"
    ClippingMagicAccountOperator(
        task_id="check_clippingmagic_credits",
        min_credits="{{ params.min_credits or var.value.get('vehicle_photos_clippingmagic_min_credits', 500) | int }}",
        on_low_credits="fail",
        pool=CLIPPINGMAGIC_POOL,
        on_failure_callback=task_failed_callbacks(ALERTS),
    )

    @task(pool=CARCUTTER_POOL, on_failure_callback=task_failed_callbacks(ALERTS))
    def check_carcutter_access() -> str:
        works, message = CarCutterHook().test_connection()
        if not works:
            raise RuntimeError(f"Car-Cutter refused the connection carcutter_default: {message}")
        return message

    check_carcutter_access()
    ClippingMagicDeleteOperator(
        task_id="delete_archived_clippingmagic_images",
        older_than_days="{{ params.delete_after_days }}",
        records_bucket=bucket,
        pool=CLIPPINGMAGIC_POOL,
    )


api_housekeeping()
