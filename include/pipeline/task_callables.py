"""The vehicle_listings task callables that are not provider operators. Each turns the task context into
arguments for the pipeline modules and their answer back into a small XCom. The DAG file imports this module
when it is parsed, so the heavy modules (pandas, Pillow, boto3 via the S3 hooks) are imported inside."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from include.pipeline.settings import PipelineSettings
from vehicle_photos.image_common.statuses import ResultStatus
from vehicle_photos.run_report import REPORT_URI_XCOM_KEY

log = logging.getLogger(__name__)


def plan_run(settings: dict[str, Any]) -> list[dict[str, Any]]:
    """Validate every listing file of the date, refuse or reuse what needs no work, and write the batches."""
    from include.pipeline.plan_step import plan_batches

    return plan_batches(_settings(settings))


# What each mapped task takes from a batch entry of plan_run (`XComArg.map`; Airflow keeps these functions by
# their source, so each stands alone).
def set_features_and_hotspots_input(batch: dict) -> object:
    return batch["carcutter.set_features_and_hotspots"]


def process_carcutter_images_input(batch: dict) -> object:
    return batch["carcutter.process_images"]


def autoclip_images_input(batch: dict) -> object:
    return batch["clippingmagic.autoclip_images"]


def make_composites_input(batch: dict) -> object:
    return batch["clippingmagic.make_composites"]


def make_composites(batch: dict[str, Any] | None, settings: dict[str, Any]) -> dict[str, Any]:
    """The batch's local composites of Clipping Magic cut-outs, for dealers whose profile asks for one."""
    from include.pipeline.composites import composite_batch
    from include.pipeline.known_images import source_policy
    from include.pipeline.plan_step import s3_hook_for

    if batch is None:
        # a success, not a skip: Airflow 3.3 reports a skip only once the task process has exited, seconds
        # later, and publish_run waits for this task
        log.info("no composite in this batch's profile, or nothing to composite")
        return {"made": 0, "failed": 0}
    resolved = _settings(settings)
    return composite_batch(s3_hook_for(resolved), batch, source_policy(resolved))


def publish_run(settings: dict[str, Any], ti: Any = None, outlet_events: Any = None) -> dict[str, Any]:
    """Manifest, report, applied vehicle state and archive, whatever happened upstream; then the asset events
    that tell other DAGs where the date's manifest and archive are."""
    from include.pipeline.assets import add_published_events
    from include.pipeline.publishing import publish_date

    resolved = _settings(settings)
    if resolved.dry_run:
        raise AirflowSkipException("dry run: nothing to publish")
    plan_uri = resolved.plan_uri

    def task_output(task_id: str, map_index: int | None) -> Any:
        if map_index is None:
            return ti.xcom_pull(task_ids=task_id, default=None)
        return ti.xcom_pull(task_ids=task_id, map_indexes=map_index, default=None)

    published = publish_date(resolved, plan_uri, task_output)
    ti.xcom_push(key=REPORT_URI_XCOM_KEY, value=published["outputs"]["report"])
    add_published_events(outlet_events, resolved, published)
    return published


FAILED_STATES = ("failed", "upstream_failed")


def fail_run_if_a_task_failed(ti: Any = None) -> None:
    """Runs last, whatever happened upstream (publish_run succeeds whatever happened before it): fails the run
    when a task failed, saying what failed (XCom `failure`, which the failed-date alert shows)."""
    from include.alerts.notifiers import FAILURE_XCOM_KEY

    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
    failed = sorted(task for task, state in states.items() if state in FAILED_STATES and task != ti.task_id)
    if not failed:
        log.info("no task failed")
        return
    published = ti.xcom_pull(task_ids="publish_run", default=None) or {}
    summary, outputs = published.get("summary") or {}, published.get("outputs") or {}
    by_status = summary.get("by_status") or {}
    failure = {
        "date": ti.xcom_pull(task_ids="wait_for_listings", key="listing_date", default=None),
        "failed_tasks": failed,
        "images": summary.get("images"),
        "images_by_status": by_status,
        "images_not_final": sum(count for status, count in by_status.items() if status != ResultStatus.FINAL)
        if summary
        else None,
        "rejected_rows": summary.get("rejected_rows"),
        "credits_this_run": summary.get("credits_this_run"),
        "report": outputs.get("report"),
    }
    ti.xcom_push(key=FAILURE_XCOM_KEY, value=failure)
    raise AirflowFailException(
        f"Failed: {', '.join(failed)}. The manifest and report of this run record what was done and why. "
        "Fix the cause (see the failed task's log) and clear the failed tasks or rerun the date."
    )


def _settings(values: dict[str, Any]) -> PipelineSettings:
    return PipelineSettings.from_params(values)
