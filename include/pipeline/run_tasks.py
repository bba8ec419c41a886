"""The vehicle_listings task callables that are not provider operators. Each is small: it turns the task
context into arguments for `steps` / `credits` and back into XCom. The DAG file imports this module when it
is parsed, so the heavy modules (pandas, Pillow, boto3 via the S3 hooks) are imported inside the callables."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from include.pipeline.settings import PipelineSettings, settings_for_run
from run_report import REPORT_URI_XCOM_KEY

log = logging.getLogger(__name__)

CARCUTTER_TASK = "process_carcutter_images"
CLIPPINGMAGIC_TASK = "autoclip_images"
DELETE_TASK = "delete_gone_vehicles"


def resolve_settings(params: dict[str, Any] | None = None) -> dict[str, Any]:
    return settings_for_run(dict(params or {})).to_dict()


def locate_listings(settings: dict[str, Any], ds: str | None = None) -> str:
    from include.pipeline import steps
    from include.pipeline.storage import PipelineStorage

    resolved = PipelineSettings.from_params(settings)
    return steps.locate_listings(PipelineStorage(resolved.bucket), resolved, str(ds))


def validate_and_plan(settings: dict[str, Any], prefix: str, ds: str | None = None) -> dict[str, Any]:
    from include.pipeline import steps
    from include.pipeline.storage import PipelineStorage

    resolved = PipelineSettings.from_params(settings)
    return steps.validate_and_plan(PipelineStorage(resolved.bucket), resolved, str(ds), prefix)


def preflight(settings: dict[str, Any], plan: dict[str, Any]) -> bool:
    """Estimate the credits the run will spend; a dry run stops here, a real run checks Clipping Magic's balance."""
    from clippingmagic.hooks.clippingmagic import ClippingMagicHook
    from include.pipeline.credits import estimate_credits

    resolved = PipelineSettings.from_params(settings)
    needed = estimate_credits(plan, resolved)
    log.info("credits this run would spend: Car-Cutter %(carcutter)d, Clipping Magic %(clippingmagic)d", needed)
    if resolved.dry_run:
        log.info("dry run: nothing is sent to the services; %d rows were rejected", plan["rejected_count"])
        return False
    if needed["clippingmagic"]:
        credits = int(ClippingMagicHook().get_account().get("credits", 0))
        if credits < needed["clippingmagic"]:
            raise AirflowFailException(
                f"Clipping Magic has {credits} credits left but this run needs {needed['clippingmagic']}; "
                "nothing was spent. Top up the account or run with clippingmagic_test_mode."
            )
    return True


def work_batches(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return plan["batches"]


def _results(ti: Any, task_id: str, *failure_keys: str) -> list[dict[str, Any]]:
    """Per-image results of every mapped instance of `task_id`, including those a failed instance left."""
    found: list[dict[str, Any]] = []
    for key in ("return_value", *failure_keys):
        pulled = ti.xcom_pull(task_ids=task_id, key=key, default=None)
        for item in pulled or []:
            if isinstance(item, list):
                found.extend(entry for entry in item if isinstance(entry, dict))
            elif isinstance(item, dict):
                found.append(item)
    return found


def publish_run(
    settings: dict[str, Any], plan: dict[str, Any], ti: Any = None, ds: str | None = None
) -> dict[str, Any]:
    from include.pipeline import steps
    from include.pipeline.storage import PipelineStorage

    resolved = PipelineSettings.from_params(settings)
    deleted = (ti.xcom_pull(task_ids=DELETE_TASK, default=None) or {}).get("deleted", [])
    published = steps.publish_run(
        PipelineStorage(resolved.bucket),
        resolved,
        str(ds),
        plan,
        [_results(ti, CARCUTTER_TASK)],
        [_results(ti, CLIPPINGMAGIC_TASK, "image_results")],
        deleted,
    )
    ti.xcom_push(key=REPORT_URI_XCOM_KEY, value=published["outputs"]["report"])
    return published


def fail_run_if_a_task_failed() -> None:
    """Runs only when a task upstream failed (trigger rule one_failed): marks the whole run failed."""
    raise AirflowFailException(
        "A processing task failed; the manifest and report of this run record what was done and why. "
        "Fix the cause (see the failed task's log) and clear the failed tasks or rerun the date."
    )
