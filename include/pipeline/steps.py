"""The vehicle_listings steps that are about data, not about an API: find and validate the date's
listings, plan the batches, and publish the manifest, report and archive at the end."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any
from urllib.parse import quote

from include.listings.validate import validate_listing_files
from include.pipeline.manifest import build_manifest, manifest_json, manifest_parquet, summarize
from include.pipeline.plan import annotation_image_id, plan_batches, plan_images, select_vehicles
from include.pipeline.report import render_report
from include.pipeline.settings import PipelineSettings
from include.pipeline.storage import PipelineStorage

log = logging.getLogger(__name__)


def locate_listings(storage: PipelineStorage, settings: PipelineSettings, ds: str) -> str:
    """The date's listing prefix; on a rerun after archiving, the date's archive prefix instead."""
    incoming = settings.dated(settings.listings_prefix, ds)
    archived = settings.dated(settings.archive_prefix, ds)
    if not storage.listing_keys(incoming) and storage.listing_keys(archived):
        log.info("no new listing files for %s; rerunning from the archive %s", ds, archived)
        return archived
    return incoming


def validate_and_plan(storage: PipelineStorage, settings: PipelineSettings, ds: str, prefix: str) -> dict[str, Any]:
    """Validate every row, write rejected rows with their reasons, and plan batches of whole vehicles."""
    keys = storage.listing_keys(prefix)
    result = validate_listing_files(storage.read_listing_files(keys))
    rejected_uri = storage.write_rejected(settings.dated(settings.rejected_prefix, ds), result.rejected)
    for row in result.rejected:
        log.warning("rejected %s line %s: %s", row.file, row.line, row.reason)
    listings = select_vehicles(result.listings, settings.vehicle_ids)
    active = [listing for listing in listings if listing.listing_status == "active"]
    gone = [
        {
            "vehicle_id": listing.vehicle_id,
            "image_ids": [annotation_image_id(listing.vehicle_id, i.name) for i in plan_images(listing, settings)],
        }
        for listing in listings
        if listing.listing_status != "active"
    ]
    batches = plan_batches(active, settings)
    log.info(
        "%d listing files, %d vehicles accepted (%d active, %d sold or removed), %d rows rejected, %d batches",
        len(keys), len(listings), len(active), len(gone), len(result.rejected), len(batches),
    )  # fmt: skip
    return {
        "listing_prefix": prefix,
        "listing_keys": keys,
        "rejected_uri": rejected_uri,
        "rejected_count": len(result.rejected),
        "batches": batches,
        "gone_vehicles": gone,
    }


def report_url(storage: PipelineStorage, key: str) -> str:
    """Where a person opens the report: the object on a custom endpoint (local stack), else the S3 console."""
    endpoint = storage.hook.conn_config.endpoint_url
    if endpoint:
        return f"{endpoint.rstrip('/')}/{storage.bucket}/{quote(key, safe='/=')}"
    return f"https://s3.console.aws.amazon.com/s3/object/{storage.bucket}?prefix={quote(key)}"


def _by_source(provider: str, results: Iterable[Iterable[dict[str, Any]] | None]) -> dict[tuple[str, str], dict]:
    return {(provider, item["source"]): item for batch in results if batch for item in batch}


def publish_run(
    storage: PipelineStorage,
    settings: PipelineSettings,
    ds: str,
    plan: dict[str, Any],
    carcutter_results: Iterable[list[dict[str, Any]] | None],
    clippingmagic_results: Iterable[list[dict[str, Any]] | None],
    deleted_vehicle_ids: list[str],
) -> dict[str, Any]:
    """Write the manifest (Parquet + JSON) and the HTML report, then move the listing files to the archive."""
    planned = [
        (provider, image)
        for batch in plan["batches"]
        for provider in ("carcutter", "clippingmagic")
        for image in batch[f"{provider}_images"]
    ]
    results = {**_by_source("carcutter", carcutter_results), **_by_source("clippingmagic", clippingmagic_results)}
    rows = build_manifest(planned, results)
    credits_this_run = sum(int(item.get("credits_this_run") or 0) for item in results.values())
    summary = summarize(rows, credits_this_run, plan["rejected_count"], len(deleted_vehicle_ids))

    manifest_prefix = settings.dated(settings.manifests_prefix, ds)
    reports_prefix = settings.dated(settings.reports_prefix, ds)
    outputs = {
        "manifest_parquet": storage.put(
            f"{manifest_prefix}manifest.parquet", manifest_parquet(rows), "application/vnd.apache.parquet"
        ),
        "manifest_json": storage.put(f"{manifest_prefix}manifest.json", manifest_json(rows), "application/json"),
    }
    rejected = storage.read_jsonl(plan["rejected_uri"]) if plan["rejected_count"] else []
    html = render_report(ds, summary, rows, rejected, storage.read_uri, settings.report_thumbnail_vehicles)
    outputs["report"] = storage.put(f"{reports_prefix}report.html", html.encode(), "text/html; charset=utf-8")
    outputs["report_url"] = report_url(storage, f"{reports_prefix}report.html")
    outputs["summary"] = storage.put_json(f"{reports_prefix}summary.json", summary.to_dict())
    if plan["listing_prefix"] == settings.dated(settings.listings_prefix, ds):
        outputs["archived"] = storage.archive(
            plan["listing_keys"], plan["listing_prefix"], settings.dated(settings.archive_prefix, ds)
        )
    outputs["rejected"] = plan["rejected_uri"]
    log.info("run summary: %s", asdict(summary))
    return {"summary": summary.to_dict(), "outputs": outputs}
