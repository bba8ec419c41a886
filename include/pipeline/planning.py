"""The `plan_run` step: every listing file of the date validated, every image either known already (reused or
refused) or planned into a batch, and the batches' inputs written to S3 for the mapped tasks.

What it returns goes through XCom, so it holds only references: one entry per batch of vehicles with work, with
the `s3://` URI of each mapped task's input and results, whatever the number of images (at most `max_batches`
entries). The plan itself (`<run prefix>plan.json.gz`) is read by `publish_run`. A dry run stops here: the
task is skipped after logging what the run would spend, and everything downstream with it.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterable
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from include.listings.validate import validate_listing_files
from include.pipeline.credits import estimate_credits
from include.pipeline.known_images import find_known_images
from include.pipeline.listing_files import find_listing_objects, read_listing_files
from include.pipeline.plan import (
    PROVIDERS,
    PlannedImage,
    VehicleWork,
    batches,
    gone_item,
    plan_images,
    select_vehicles,
    vehicle_work,
)
from include.pipeline.settings import PipelineSettings
from include.pipeline.vehicle_state import AppliedVehicleState, digest_of
from vehicle_photos.image_common.items import put_bytes, put_json
from vehicle_photos.image_common.results import results_jsonl

log = logging.getLogger(__name__)

# The mapped tasks that work from vehicles, and what each takes from a VehicleWork.
VEHICLE_TASKS = {"register_vehicles": "register", "set_features": "features", "set_hotspots": "hotspots"}
IMAGE_TASKS = {"process_carcutter_images": "carcutter", "autoclip_images": "clippingmagic"}
DELETE_TASK = "delete_gone_vehicles"


def s3_hook_for(settings: PipelineSettings) -> S3Hook:
    return S3Hook(aws_conn_id="aws_default", config={"max_pool_connections": 32})


def plan_run(settings: PipelineSettings) -> list[dict[str, Any]]:
    s3_hook = s3_hook_for(settings)
    objects = find_listing_objects(s3_hook, settings)
    files, too_big = read_listing_files(s3_hook, settings.bucket, objects, settings.max_listing_file_bytes)
    validation = validate_listing_files(files)
    rejected = [*too_big, *validation.rejected]
    rejected_uri = f"s3://{settings.bucket}/{settings.dated(settings.rejected_prefix)}rejected.jsonl"
    body = "".join(json.dumps(row.to_dict(), sort_keys=True, default=str) + "\n" for row in rejected).encode()
    put_bytes(s3_hook, rejected_uri, body, "application/x-ndjson")
    for row in rejected:
        log.warning("rejected %s line %s: %s", row.file, row.line, row.reason)
    for warning in validation.warnings:
        log.warning("%s", warning)

    listings = select_vehicles(validation.listings, settings.vehicle_ids)
    active = [listing for listing in listings if listing.listing_status == "active"]
    gone = [listing for listing in listings if listing.listing_status != "active"]
    planned = {listing.vehicle_id: plan_images(listing, settings) for listing in active}
    images = [image for vehicle_images in planned.values() for image in vehicle_images]
    known = find_known_images(s3_hook, settings, images)
    state = AppliedVehicleState(s3_hook.conn, settings.bucket, settings.records_prefix)
    applied = state.load()

    works = []
    for listing in active:
        work = vehicle_work(listing, planned[listing.vehicle_id], applied)
        for image in planned[listing.vehicle_id]:
            if image.key in known.identities:
                work.images[image.provider].append(image.operator_item(known.identities[image.key]))
        works.append(work)
    deletions = [(gone_item(listing, settings), listing.vehicle_id) for listing in gone]
    deletions = [(item, vid) for item, vid in deletions if applied.get(("deleted", vid)) != digest_of(item)]

    to_process = _distinct_counts(known.identities, images)
    credits = estimate_credits(to_process, settings)
    counts = {
        "listing_files": len(objects), "vehicles": len(listings), "active": len(active), "gone": len(gone),
        "images": len(images), "known": len(known.results), "to_process": sum(to_process.values()),
        "rejected_rows": len(rejected),
    }  # fmt: skip
    log.info("plan for %s: %s; credits it would spend: %s", settings.listing_date, counts, credits)
    log.info("credits this run would spend: Car-Cutter %(carcutter)d, Clipping Magic %(clippingmagic)d", credits)
    if settings.dry_run:
        raise AirflowSkipException(f"dry run: nothing is sent to the services; {len(rejected)} rows were rejected")
    _check_clippingmagic_balance(credits["clippingmagic"])

    batch_inputs, applied_by_task = _write_batch_inputs(s3_hook, settings, [w for w in works if w.has_work])
    put_json(s3_hook, settings.gone_vehicles_uri, [item for item, _ in deletions])
    applied_by_task[DELETE_TASK] = [[
        {"aspect": "deleted", "vehicle_id": vid, "digest": digest_of(item)} for item, vid in deletions
    ]]  # fmt: skip
    known_uri = f"s3://{settings.bucket}/{settings.run_prefix}known-results.jsonl"
    put_bytes(s3_hook, known_uri, results_jsonl(known.results.values()), "application/x-ndjson")
    document = {
        "listing_date": settings.listing_date,
        "listing_files": [obj.to_dict() for obj in objects],
        "rejected_uri": rejected_uri,
        "rejected_count": len(rejected),
        "images": [image.to_dict() for image in images],
        "results_uris": [batch[task]["results_uri"] for batch in batch_inputs for task in IMAGE_TASKS],
        "known_results_uri": known_uri,
        "applied_by_task": applied_by_task,
        "counts": counts,
        "credits": credits,
    }
    put_bytes(s3_hook, settings.plan_uri, gzip.compress(json.dumps(document).encode()), "application/gzip")
    return batch_inputs


def read_plan(s3_hook: S3Hook, plan_uri: str) -> dict[str, Any]:
    bucket, key = S3Hook.parse_s3_url(plan_uri)
    return json.loads(gzip.decompress(s3_hook.conn.get_object(Bucket=bucket, Key=key)["Body"].read()))


def planned_images(plan: dict[str, Any]) -> list[PlannedImage]:
    return [PlannedImage.from_dict(entry) for entry in plan["images"]]


def _write_batch_inputs(
    s3_hook: S3Hook, settings: PipelineSettings, works: list[VehicleWork]
) -> tuple[list[dict[str, Any]], dict[str, list[list[dict[str, str]]]]]:
    """One JSON input per batch and mapped task, where that task has something to do in the batch. Returns
    the batches (what every mapped task expands over, each taking its own entry; None: nothing to do) and,
    per task and batch, the vehicle-state entries its success applies."""
    batch_inputs: list[dict[str, Any]] = []
    applied_by_task: dict[str, list[list[dict[str, str]]]] = {task: [] for task in VEHICLE_TASKS}
    base = f"s3://{settings.bucket}/{settings.run_prefix}"
    for number, group in enumerate(batches(works, settings)):
        inputs: dict[str, Any] = {}
        for task, aspect in VEHICLE_TASKS.items():
            chosen = [work for work in group if getattr(work, aspect) is not None]
            items = _flatten(work.hotspots for work in chosen) if aspect == "hotspots" else [
                getattr(work, aspect) for work in chosen
            ]  # fmt: skip
            inputs[task] = put_json(s3_hook, f"{base}b{number:04d}/{task}.json", items) if items else None
            applied_by_task[task].append([e for work in chosen for e in work.applied if e["aspect"] == aspect])
        for task, provider in IMAGE_TASKS.items():
            items = [item for work in group for item in work.images[provider]]
            inputs[task] = {
                "images": put_json(s3_hook, f"{base}b{number:04d}/{task}.json", items) if items else None,
                "results_uri": f"{base}b{number:04d}/{task}.results.jsonl",
            }
        batch_inputs.append(inputs)
    return batch_inputs, applied_by_task


def _flatten(lists: Iterable[list[Any]]) -> list[Any]:
    return [item for entries in lists for item in entries]


def _distinct_counts(identities: dict[tuple[str, str, str], str | None], images: list[PlannedImage]) -> dict[str, int]:
    """Distinct images per provider among those to process (by identity, or by source when only its content
    can tell)."""
    by_key = {image.key: image for image in images}
    distinct: dict[str, set[str]] = {provider: set() for provider in PROVIDERS}
    for key, identity in identities.items():
        distinct[key[0]].add(identity or by_key[key].source)
    return {provider: len(found) for provider, found in distinct.items()}


def _check_clippingmagic_balance(needed: int) -> None:
    if not needed:
        return
    from vehicle_photos.clippingmagic.hooks.clippingmagic import ClippingMagicHook

    credits = int(ClippingMagicHook().get_account().get("credits", 0))
    if credits < needed:
        raise AirflowFailException(
            f"Clipping Magic has {credits} credits left but this run may need {needed} (the worst case: see "
            "clippingmagic_extra_outputs_cost_credits); nothing was spent. Top up the account or run with "
            "clippingmagic_test_mode."
        )
