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
from collections.abc import Iterable, Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from include.listings.rejections import RejectedRow, rejection
from include.listings.validate import AcceptedListing, validate_listing_files
from include.pipeline.composites import composite_key, existing_composites
from include.pipeline.dealer_credits import dealer_credits_table, plan_dealer_credits
from include.pipeline.known_images import find_known_images, source_policy
from include.pipeline.listing_files import find_listing_objects, read_listing_files
from include.pipeline.planned_work import (
    PlannedImage,
    VehicleWork,
    gone_item,
    plan_images,
    profile_batches,
    vehicle_work,
)
from include.pipeline.settings import PipelineSettings
from include.pipeline.vehicle_state import AppliedVehicleState, digest_of
from include.profiles.load import DEFAULT_PROFILE, DealerProfile, DealerProfiles, load_profiles
from vehicle_photos.image_common.items import put_bytes, put_json
from vehicle_photos.image_common.results import ImageResult, results_jsonl
from vehicle_photos.image_common.s3_objects import read_object
from vehicle_photos.image_common.statuses import ResultStatus

log = logging.getLogger(__name__)

# The tasks of the DAG's TaskGroups that work from a batch (their task ids: "<group>.<task>"): those that work
# from images and their provider, and which task applies each Car-Cutter aspect of a VehicleWork, under which
# argument (the image task registers its batch's vehicles before it submits their images).
CARCUTTER_TASK = "carcutter.process_images"
AUTOCLIP_TASK = "clippingmagic.autoclip_images"
IMAGE_TASKS = {CARCUTTER_TASK: "carcutter", AUTOCLIP_TASK: "clippingmagic"}
FEATURES_TASK = "carcutter.set_features_and_hotspots"
VEHICLE_ASPECTS = {
    "register": (CARCUTTER_TASK, "vehicles"),
    "features": (FEATURES_TASK, "vehicles"),
    "hotspots": (FEATURES_TASK, "images"),
}
COMPOSITE_TASK = "clippingmagic.make_composites"
BATCH_TASKS = (*IMAGE_TASKS, FEATURES_TASK, COMPOSITE_TASK)
DELETE_TASK = "carcutter.delete_gone_vehicles"


def s3_hook_for(settings: PipelineSettings) -> S3Hook:
    return S3Hook(aws_conn_id="aws_default", config={"max_pool_connections": 32})


def plan_batches(settings: PipelineSettings) -> list[dict[str, Any]]:
    s3_hook = s3_hook_for(settings)
    objects = find_listing_objects(s3_hook, settings)
    files, too_big = read_listing_files(s3_hook, settings.bucket, objects, settings.max_listing_file_bytes)
    validation = validate_listing_files(files)
    profiles = load_profiles(s3_hook.conn, settings, source_policy(settings))
    accepted, unprofiled = _split_by_profile(select_accepted(validation.accepted, settings.vehicle_ids), profiles)
    rejected = [*too_big, *validation.rejected, *unprofiled]
    rejected_uri = f"s3://{settings.bucket}/{settings.dated(settings.rejected_prefix)}rejected.jsonl"
    body = "".join(json.dumps(row.to_dict(), sort_keys=True, default=str) + "\n" for row in rejected).encode()
    put_bytes(s3_hook, rejected_uri, body, "application/x-ndjson")
    for row in rejected:
        log.warning("rejected %s line %s: %s", row.file, row.line, row.reason)
    for warning in validation.warnings:
        log.warning("%s", warning)

    listings = [item.listing for item in accepted]
    active = [listing for listing in listings if listing.listing_status == "active"]
    gone = [listing for listing in listings if listing.listing_status != "active"]
    profile_of_vehicle = {listing.vehicle_id: profiles.of(listing.dealer_id) for listing in listings}
    planned = {
        listing.vehicle_id: plan_images(
            listing, settings, profile_of_vehicle[listing.vehicle_id].profile.clippingmagic_angles
        )
        for listing in active
    }
    images = [image for vehicle_images in planned.values() for image in vehicle_images]

    def profile_of(image: PlannedImage) -> DealerProfile:
        return profile_of_vehicle[image.vehicle_id]

    known = find_known_images(
        s3_hook, settings, images, lambda image: profile_of(image).record_options(image.provider, settings)
    )
    state = AppliedVehicleState(s3_hook.conn, settings.bucket, settings.records_prefix)
    applied = state.load()
    to_process = [(image, known.identities[image.key]) for image in images if image.key in known.identities]
    in_run = {profile.name: profile for profile in profile_of_vehicle.values()}.values()
    credit_plan = plan_dealer_credits(to_process, profile_of, in_run, settings, applied)
    known.results.update(credit_plan.left)

    found_composites = _found_composites(s3_hook, settings, in_run)
    composites: dict[str, str] = {}  # "<vehicle>/<image name>" -> the composite that exists

    works = []
    for listing in active:
        profile = profile_of_vehicle[listing.vehicle_id]
        work = vehicle_work(listing, planned[listing.vehicle_id], applied, profile.vehicle_fields(), profile.batch_key)
        for image in planned[listing.vehicle_id]:
            if image.key in known.identities and image.key not in credit_plan.left:
                work.images[image.provider].append(image.operator_item(known.identities[image.key]))
            wanted = _wanted_composite(image, known.results.get(image.key), profile, settings)
            if wanted and wanted[1] in found_composites:
                composites[f"{image.vehicle_id}/{image.name}"] = f"s3://{settings.bucket}/{wanted[1]}"
            elif wanted:
                work.composites.append(wanted[0])
        works.append(work)
    deletions = [(gone_item(listing, settings), listing.vehicle_id) for listing in gone]
    deletions = [(item, vid) for item, vid in deletions if applied.get(("deleted", vid)) != digest_of(item)]

    credits = credit_plan.totals()
    counts = {
        "listing_files": len(objects),
        "vehicles": len(listings),
        "active": len(active),
        "gone": len(gone),
        "images": len(images),
        "known": len(known.results) - len(credit_plan.left),
        "to_process": len(to_process) - len(credit_plan.left),
        "left_for_later": len(credit_plan.left),
        "rejected_rows": len(rejected),
    }
    log.info("plan for %s: %s; credits it would spend: %s", settings.listing_date, counts, credits)
    log.info("credits this run would spend: Car-Cutter %(carcutter)d, Clipping Magic %(clippingmagic)d", credits)
    log.info("per dealer (profiles from %s):\n%s", profiles.source, dealer_credits_table(credit_plan))
    if settings.dry_run:
        raise AirflowSkipException(f"dry run: nothing is sent to the services; {len(rejected)} rows were rejected")
    _check_clippingmagic_balance(credits["clippingmagic"])

    works_by_key = [w for w in works if w.has_work]
    batch_inputs, applied_by_task = _write_batch_inputs(s3_hook, settings, works_by_key, in_run)
    put_json(s3_hook, settings.gone_vehicles_uri, [item for item, _ in deletions])
    deleted = [{"aspect": "deleted", "vehicle_id": vid, "digest": digest_of(item)} for item, vid in deletions]
    applied_by_task[DELETE_TASK] = [deleted]
    known_uri = f"s3://{settings.bucket}/{settings.run_prefix}known-results.jsonl"
    put_bytes(s3_hook, known_uri, results_jsonl(known.results.values()), "application/x-ndjson")
    document = {
        "listing_date": settings.listing_date,
        "listing_files": [obj.to_dict() for obj in objects],
        "rejected_uri": rejected_uri,
        "rejected_count": len(rejected),
        "images": [image.to_dict() for image in images],
        "results_uris": [batch[task]["results_uri"] for batch in batch_inputs for task in IMAGE_TASKS],
        "composites": composites,
        "composite_results_uris": [b[COMPOSITE_TASK]["results_uri"] for b in batch_inputs if b[COMPOSITE_TASK]],
        "known_results_uri": known_uri,
        "applied_by_task": applied_by_task,
        "applied_profiles": credit_plan.applied_profiles,
        "dealers": {name: credits.to_dict() for name, credits in credit_plan.dealers.items()},
        "counts": counts,
        "credits": credits,
    }
    put_bytes(s3_hook, settings.plan_uri, gzip.compress(json.dumps(document).encode()), "application/gzip")
    return batch_inputs


def read_plan(s3_hook: S3Hook, plan_uri: str) -> dict[str, Any]:
    bucket, key = S3Hook.parse_s3_url(plan_uri)
    return json.loads(gzip.decompress(read_object(s3_hook.conn, bucket, key)))


def planned_images(plan: dict[str, Any]) -> list[PlannedImage]:
    return [PlannedImage.from_dict(entry) for entry in plan["images"]]


def _write_batch_inputs(
    s3_hook: S3Hook, settings: PipelineSettings, works: list[VehicleWork], profiles: Iterable[DealerProfile]
) -> tuple[list[dict[str, Any]], dict[str, list[list[dict[str, str]]]]]:
    """One JSON input per batch and mapped task, where that task has something to do in the batch. Returns
    the batches (what every mapped task expands over, each taking its own entry; None: nothing to do) and,
    per task and batch, the vehicle-state entries its success applies. A batch's vehicles share one profile
    key, and the image tasks' entries carry that profile's request options."""
    arguments = {profile.batch_key: profile for profile in profiles}
    batch_inputs: list[dict[str, Any]] = []
    vehicle_tasks = {task for task, _ in VEHICLE_ASPECTS.values()}
    applied_by_task: dict[str, list[list[dict[str, str]]]] = {task: [] for task in vehicle_tasks}
    base = f"s3://{settings.bucket}/{settings.run_prefix}"
    for number, group in enumerate(profile_batches(works, settings)):
        profile = arguments[group[0].profile_key]
        options = {CARCUTTER_TASK: profile.carcutter_arguments(), AUTOCLIP_TASK: profile.clippingmagic_arguments()}
        inputs: dict[str, Any] = {FEATURES_TASK: {}}
        for task, provider in IMAGE_TASKS.items():
            items = [item for work in group for item in work.images[provider]]
            inputs[task] = {
                "images": put_json(s3_hook, f"{base}b{number:04d}/{task}.json", items) if items else None,
                "results_uri": f"{base}b{number:04d}/{task}.results.jsonl",
                **options[task],
            }
        applied = {task: [] for task in vehicle_tasks}
        for aspect, (task, argument) in VEHICLE_ASPECTS.items():
            chosen = [work for work in group if getattr(work, aspect) is not None]
            if aspect == "hotspots":
                items = _flatten(work.hotspots for work in chosen)
            else:
                items = [getattr(work, aspect) for work in chosen]
            uri = f"{base}b{number:04d}/carcutter.{aspect}.json"
            inputs[task][argument] = put_json(s3_hook, uri, items) if items else None
            applied[task] += [e for work in chosen for e in work.applied if e["aspect"] == aspect]
        for task, entries in applied.items():
            applied_by_task[task].append(entries)
        inputs[COMPOSITE_TASK] = _composite_input(s3_hook, settings, f"{base}b{number:04d}/", group, profile, inputs)
        batch_inputs.append(inputs)
    return batch_inputs, applied_by_task


def _flatten(lists: Iterable[list[Any]]) -> list[Any]:
    return [item for entries in lists for item in entries]


def _found_composites(s3_hook: S3Hook, settings: PipelineSettings, profiles: Iterable[DealerProfile]) -> set[str]:
    if not any(profile.composite_arguments() for profile in profiles):
        return set()
    return existing_composites(s3_hook.conn, settings.bucket, settings.processed_prefix)


def _wanted_composite(
    image: PlannedImage, result: ImageResult | None, profile: DealerProfile, settings: PipelineSettings
) -> tuple[dict[str, str], str] | None:
    """(the composite task's item, the composite's key) for an earlier Clipping Magic result of a dealer whose
    profile composites; None otherwise (new results are composited after the Clipping Magic task)."""
    arguments = profile.composite_arguments()
    if not arguments or image.provider != "clippingmagic" or result is None or result.status != ResultStatus.FINAL:
        return None
    uri = result.outputs.get("result")
    if not uri:
        return None
    background = (arguments["background"] or {}).get("sha256", "")
    key = composite_key(
        settings.processed_prefix, image.vehicle_id, image.name, uri, arguments["composite"], background
    )
    return {"vehicle_id": image.vehicle_id, "name": image.name, "result": uri}, key


def _composite_input(
    s3_hook: S3Hook,
    settings: PipelineSettings,
    base: str,
    group: list[VehicleWork],
    profile: DealerProfile,
    inputs: dict[str, Any],
) -> dict[str, Any] | None:
    """The batch's composite task: the earlier cut-outs still to composite, and the Clipping Magic task's results
    (composited once it finished); None when the batch's profile makes no composite."""
    arguments = profile.composite_arguments()
    reused = [item for work in group for item in work.composites]
    new_clips = inputs[AUTOCLIP_TASK]["images"]
    if not arguments or not (reused or new_clips):
        return None
    return {
        **arguments,
        "bucket": settings.bucket,
        "processed_prefix": settings.processed_prefix,
        "reused": put_json(s3_hook, f"{base}{COMPOSITE_TASK}.json", reused) if reused else None,
        "autoclip_results_uri": inputs[AUTOCLIP_TASK]["results_uri"] if new_clips else None,
        "results_uri": f"{base}{COMPOSITE_TASK}.results.jsonl",
    }


def select_accepted(accepted: list[AcceptedListing], vehicle_ids: Sequence[str]) -> list[AcceptedListing]:
    if not vehicle_ids:
        return list(accepted)
    wanted = set(vehicle_ids)
    return [item for item in accepted if item.listing.vehicle_id in wanted]


def _split_by_profile(
    accepted: list[AcceptedListing], profiles: DealerProfiles
) -> tuple[list[AcceptedListing], list[RejectedRow]]:
    """Rows whose dealer has a valid profile, and the others rejected with their profile's problem (nothing is
    billed for them; every other dealer goes on)."""
    kept, rejected = [], []
    for item in accepted:
        if profiles.of(item.listing.dealer_id) is not None:
            kept.append(item)
            continue
        reason = (
            f"dealer {item.listing.dealer_id or DEFAULT_PROFILE}: {profiles.rejection_reason(item.listing.dealer_id)}"
        )
        rejected.append(rejection(item.file, item.line, reason, item.listing.model_dump(mode="json")))
    return kept, rejected


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
