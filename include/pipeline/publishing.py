"""The `publish_run` step: the manifest (Parquet + JSON), the HTML report and its summary, the vehicle state
the run applied, and the listing files moved to the archive. It runs whatever happened upstream, so a failed
batch still leaves a manifest and a report of everything else."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from include.pipeline.dealer_report import DealerLine, dealer_lines, dealer_name, rejected_row_dealer
from include.pipeline.known_images import source_policy
from include.pipeline.listing_files import ListingObject, archive_listing_files
from include.pipeline.manifest import ManifestRow, build_manifest, manifest_json, manifest_parquet, summarize
from include.pipeline.metrics import record_run_metrics
from include.pipeline.plan_step import DELETE_TASK, planned_images, read_plan, s3_hook_for
from include.pipeline.planned_work import PROVIDERS, PlannedImage
from include.pipeline.report import dealer_page, render_report, shown_vehicles, thumbnail_name
from include.pipeline.settings import PipelineSettings
from include.pipeline.thumbnails import ThumbnailCache, WantedThumbnail
from include.pipeline.vehicle_state import AppliedVehicleState
from vehicle_photos.image_common.items import put_bytes, put_json, read_results
from vehicle_photos.image_common.record_index import RecordIndex
from vehicle_photos.image_common.record_store import ImageRecordStore
from vehicle_photos.image_common.results import ImageResult
from vehicle_photos.image_common.s3_objects import get_if_exists, get_object
from vehicle_photos.image_common.statuses import ResultStatus

log = logging.getLogger(__name__)

REPORT_REJECTED_ROWS = 500  # the report lists this many rejected rows; rejected.jsonl has them all
MAX_REJECTED_ROWS_READ = 200_000  # read for the counts per dealer

# Pulls the return value of one task (map index, or None for an unmapped task); None when it did not succeed.
TaskOutput = Callable[[str, int | None], Any]


def publish_date(settings: PipelineSettings, plan_uri: str, task_output: TaskOutput) -> dict[str, Any]:
    s3_hook = s3_hook_for(settings)
    plan = read_plan(s3_hook, plan_uri)
    images = planned_images(plan)
    results = read_results(s3_hook, plan["known_results_uri"])
    for uri in plan["results_uris"]:
        results.extend(read_results(s3_hook, uri))
    rows = build_manifest(images, results, _composites(s3_hook, plan))
    deleted = (task_output(DELETE_TASK, None) or {}).get("deleted", [])
    summary = summarize(rows, sum(r.credits_this_run for r in results), plan["rejected_count"], len(deleted))
    record_run_metrics(rows, results, plan["rejected_count"])

    base = f"s3://{settings.bucket}/"
    manifests = f"{base}{settings.dated(settings.manifests_prefix)}"
    reports = f"{base}{settings.dated(settings.reports_prefix)}"
    outputs = {
        "manifest_parquet": put_bytes(
            s3_hook, f"{manifests}manifest.parquet", manifest_parquet(rows), "application/vnd.apache.parquet"
        ),
        "manifest_json": put_bytes(s3_hook, f"{manifests}manifest.json", manifest_json(rows), "application/json"),
    }
    rejected = _read_jsonl(s3_hook, plan["rejected_uri"], MAX_REJECTED_ROWS_READ) if plan["rejected_count"] else []
    thumbnails = _report_thumbnails(s3_hook, settings, images, results, rows)
    dealers = dealer_lines(rows, results, plan.get("dealers", {}), rejected)
    html = render_report(
        settings.listing_date,
        summary,
        rows,
        rejected[:REPORT_REJECTED_ROWS],
        thumbnails,
        settings.report_thumbnail_vehicles,
        dealers=dealers,
    )
    outputs["report"] = put_bytes(s3_hook, f"{reports}report.html", html.encode(), "text/html; charset=utf-8")
    outputs["dealer_pages"] = _dealer_pages(s3_hook, settings, reports, dealers, rows, results, rejected, thumbnails)
    outputs["summary"] = put_json(
        s3_hook, f"{reports}summary.json", {**summary.to_dict(), "dealers": [line.to_dict() for line in dealers]}
    )
    outputs["rejected"] = plan["rejected_uri"]

    _record_applied_state(s3_hook, settings, plan, task_output)
    listing_files = [ListingObject(**entry) for entry in plan["listing_files"]]
    outputs["archived"] = archive_listing_files(s3_hook, settings, listing_files)
    _compact_indexes(s3_hook, settings)
    log.info("run summary: %s", asdict(summary))
    return {"summary": summary.to_dict(), "outputs": outputs}


def _dealer_pages(
    s3_hook: S3Hook,
    settings: PipelineSettings,
    reports: str,
    dealers: list[DealerLine],
    rows: list[ManifestRow],
    results: list[ImageResult],
    rejected: list[dict[str, Any]],
    thumbnails: dict[str, str],
) -> int:
    """One page per dealer beside the report (the report app serves them too); returns how many."""
    for line in dealers:
        own_rows = [row for row in rows if dealer_name(row.dealer_id) == line.dealer]
        own_keys = {(row.provider, row.vehicle_id, row.name) for row in own_rows}
        own_rejected = [row for row in rejected if rejected_row_dealer(row) == line.dealer]
        credits = sum(result.credits_this_run for result in results if result.key in own_keys)
        summary = summarize(own_rows, credits, len(own_rejected), 0)
        html = render_report(
            settings.listing_date,
            summary,
            own_rows,
            own_rejected[:REPORT_REJECTED_ROWS],
            thumbnails,
            settings.report_thumbnail_vehicles,
            dealer=line.dealer,
        )
        put_bytes(s3_hook, f"{reports}{dealer_page(line.dealer)}", html.encode(), "text/html; charset=utf-8")
    return len(dealers)


def _composites(s3_hook: S3Hook, plan: dict[str, Any]) -> dict[str, str]:
    """ "<vehicle>/<image name>" -> its composite: those that existed, and those the run's tasks made."""
    found = dict(plan.get("composites", {}))
    for uri in plan.get("composite_results_uris", []):
        # none when that composite task failed or was skipped
        for line in _read_jsonl(s3_hook, uri, MAX_REJECTED_ROWS_READ, missing_ok=True):
            found[f"{line['vehicle_id']}/{line['name']}"] = line["composite"]
    return found


def _report_thumbnails(
    s3_hook: S3Hook,
    settings: PipelineSettings,
    images: list[PlannedImage],
    results: list[ImageResult],
    rows: list[ManifestRow],
) -> dict[str, str]:
    """Before / after thumbnails of the vehicles the report shows, through the per-vehicle cache."""
    sources = {image.key: image.source for image in images}
    identities = {(r.provider, r.vehicle_id, r.name): r.identity or "" for r in results}
    vehicles = []
    for _, vehicle_rows in shown_vehicles(rows, settings.report_thumbnail_vehicles):
        wanted = []
        for row in vehicle_rows:
            key = (row.provider, row.vehicle_id, row.name)
            if row.status != ResultStatus.REFUSED:
                wanted.append(WantedThumbnail(thumbnail_name(row, "before"), sources[key], identities.get(key, "")))
            if row.result:
                wanted.append(WantedThumbnail(thumbnail_name(row, "after"), row.result, row.result))
        vehicles.append(wanted)
    cache = ThumbnailCache(s3_hook.conn, settings.bucket, f"{settings.reports_prefix}/_thumbnails")
    return cache.thumbnails(vehicles, source_policy(settings))


def _record_applied_state(
    s3_hook: S3Hook, settings: PipelineSettings, plan: dict[str, Any], task_output: TaskOutput
) -> None:
    """The vehicle-state digests of every mapped task instance that succeeded; a failed one is planned again."""
    applied = []
    for task, per_index in plan["applied_by_task"].items():
        for index, entries in enumerate(per_index):
            if task_output(task, None if task == DELETE_TASK else index) is not None:
                applied.extend(entries)
    applied.extend(plan.get("applied_profiles", []))  # the dealers' profiles this run went ahead with
    AppliedVehicleState(s3_hook.conn, settings.bucket, settings.records_prefix).record(applied)


def _compact_indexes(s3_hook: S3Hook, settings: PipelineSettings) -> None:
    store = ImageRecordStore(settings.bucket, settings.records_prefix)
    for provider in PROVIDERS:
        RecordIndex(store, provider).compact()
    AppliedVehicleState(s3_hook.conn, settings.bucket, settings.records_prefix).compact()


def _read_jsonl(s3_hook: S3Hook, uri: str, limit: int, missing_ok: bool = False) -> list[Any]:
    """The first `limit` rows; with `missing_ok`, none when the object does not exist."""
    bucket, key = S3Hook.parse_s3_url(uri)
    answer = get_if_exists(s3_hook.conn, bucket, key) if missing_ok else get_object(s3_hook.conn, bucket, key)
    if answer is None:
        return []
    rows = []
    for line in answer["Body"].iter_lines():
        if line.strip():
            rows.append(json.loads(line))
            if len(rows) >= limit:
                break
    return rows
