"""The image operations: synchronous single-segment composition and the asynchronous submit / status / result."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from dev.standins import guesses
from dev.standins.carcutter import paths
from dev.standins.carcutter.account import check_account_id, scene_backdrop
from dev.standins.carcutter.counters import CarCutterCounters
from dev.standins.carcutter.errors import (
    CREDITS_EXCEEDED_MESSAGE,
    EXPIRED_MESSAGE,
    NO_SUCH_IMAGE_MESSAGE,
    CarCutterError,
    bad_input,
)
from dev.standins.carcutter.forms import CUT_TYPES, MULTIPART, PROCESSING_SPEEDS, QUERY, RETOUCHING_ACCURACIES, Fields
from dev.standins.carcutter.processing import FetchError, Processor, TooManyVehicles, cut
from dev.standins.carcutter.timing import BILL_WHAT_FITS
from dev.standins.carcutter.vehicles import Catalog
from dev.standins.common import BillingLedger, CreditsExhausted, Knobs
from dev.standins.common.accept import admits
from dev.standins.common.draws import share_draw

MAX_URLS_PER_SUBMISSION = 60
PADDINGS = (
    "padding_x",
    "padding_y",
    "padding_add_bottom",
    "padding_add_top",
    "padding_add_left",
    "padding_add_right",
)
SYNC_FLAGS = ("offset_background", "blurring_license_plate", "underground_3d", "upload_only", "from_manual_retouching")


def _charge(ledger: BillingLedger, keys: list[str]) -> None:
    try:
        ledger.charge(keys)
    except CreditsExhausted:
        raise CarCutterError(402, CREDITS_EXCEEDED_MESSAGE) from None


def _require_acceptable(knobs: Knobs, request: Request, media_type: str) -> None:
    if knobs.strict_accept and not admits(request, media_type):
        raise CarCutterError(406, guesses.NOT_ACCEPTABLE_MESSAGE.format(media_type=media_type))


def image_router(
    processor: Processor, catalog: Catalog, ledger: BillingLedger, counters: CarCutterCounters
) -> APIRouter:
    router = APIRouter()
    knobs = processor.knobs

    @router.post(paths.SYNC_SINGLE_SEGMENT, name="syncSubmit")
    async def sync_submit(request: Request) -> Response:
        fields = await Fields.read(request, MULTIPART)
        upload = fields.upload("image")
        image_urls = fields.urls("image_url")
        if (upload is None) == (not image_urls):
            raise bad_input(guesses.CC_SYNC_ONE_SOURCE)
        cut_type = fields.choice("cut_type", CUT_TYPES, required=True)
        fields.choice("processing_speed", PROCESSING_SPEEDS)
        fields.choice("retouching_accuracy", RETOUCHING_ACCURACIES)
        for flag in SYNC_FLAGS:
            fields.boolean(flag)
        fields.json_document("custom_json")
        options: dict[str, Any] = {
            "resolution": fields.resolution("resolution"),
            "paddings": {name: value for name in PADDINGS if (value := fields.fraction(name)) is not None},
            "background": await fields.image("background", "JPEG", "RGB"),
            "license_plate": await fields.image("license_plate", "PNG", "RGBA"),
            "overlay": await fields.image("overlay", "PNG", "RGBA"),
        }
        if cut_type == "none":
            return JSONResponse({})
        _require_acceptable(knobs, request, guesses.CC_SYNC_CONTENT_TYPE)
        if ledger.credits_left < 1:
            raise CarCutterError(402, CREDITS_EXCEEDED_MESSAGE)
        if upload is not None:
            data = await upload.read()
            ledger_key = "upload:sha256:" + hashlib.sha256(data).hexdigest()
        else:
            ledger_key = image_urls[0]
            try:
                data = await processor.obtain(ledger_key)
            except FetchError as error:
                raise bad_input(f"image_url: {error}") from None
        try:
            result, _ = await asyncio.get_running_loop().run_in_executor(
                processor.pixel_pool, cut, data, cut_type, knobs.fast, options
            )
        except TooManyVehicles as error:
            raise CarCutterError(413, str(error)) from None
        except ValueError as error:
            raise bad_input(f"image: {error}") from None
        _charge(ledger, [ledger_key])
        attempt = f"{ledger_key}#{ledger.charges[ledger_key]}"
        if share_draw(knobs.seed, "sync-error", attempt) < knobs.sync_error_after_processing_ratio:
            raise CarCutterError(500, "internal server error (after processing)")
        if knobs.result_body != "image":  # billed, and the answer is a page or nothing in the usual wrapper
            result = guesses.CC_RESULT_HTML_PAGE if knobs.result_body == "html" else b""
        return Response(base64.b64encode(result), media_type=guesses.CC_SYNC_CONTENT_TYPE)

    @router.post(paths.ASYNC_SUBMIT, name="asyncSubmit")
    async def async_submit(request: Request) -> dict[str, Any]:
        fields = await Fields.read(request, MULTIPART)
        urls = fields.urls("image_url")
        if not urls:
            raise bad_input("missing required parameter 'image_url'")
        if len(urls) > MAX_URLS_PER_SUBMISSION:
            raise bad_input(f"at most {MAX_URLS_PER_SUBMISSION} image_url per request, got {len(urls)}")
        cut_type = fields.choice("cut_type", CUT_TYPES) or guesses.CC_DEFAULT_CUT_TYPE
        speed = fields.choice("processing_speed", PROCESSING_SPEEDS)
        accuracy = fields.choice("retouching_accuracy", RETOUCHING_ACCURACIES)
        custom_json = fields.json_document("custom_json")
        webhook_url = fields.urls("webhook_url")[:1]
        vehicle_id = fields.text("vehicle_id")
        ids = {name: fields.text(name) for name in ("guideline_id", "location_id", "scene_id")}
        for name, value in ids.items():
            check_account_id(knobs, name, value)
        overlay_bytes, plate_bytes = await fields.upload_bytes("overlay"), await fields.upload_bytes("license_plate")
        options = {
            "license_plate": await fields.image("license_plate", "PNG", "RGBA"),
            "overlay": await fields.image("overlay", "PNG", "RGBA"),
            "background": scene_backdrop(ids["scene_id"]),
        }
        urls = list(dict.fromkeys(urls))
        counters.count_submission(
            vehicle_id=vehicle_id,
            images=len(urls),
            cut_type=cut_type,
            processing_speed=speed,
            retouching_accuracy=accuracy,
            custom_json=custom_json,
            **ids,
            overlay_sha256=_sha256(overlay_bytes),
            license_plate_sha256=_sha256(plate_bytes),
        )
        if knobs.hold_submission_seconds:
            await asyncio.sleep(knobs.hold_submission_seconds)
        refused = None
        if knobs.short_credits == BILL_WHAT_FITS and len(urls) > ledger.credits_left:
            urls, refused = urls[: ledger.credits_left], CarCutterError(402, CREDITS_EXCEEDED_MESSAGE)
            if not urls:
                raise refused
        _charge(ledger, urls)
        if vehicle_id:
            catalog.mark_active(vehicle_id)
        webhook = webhook_url[0] if webhook_url and knobs.webhooks_enabled else None  # an account setting
        submission = processor.submit(urls, cut_type, speed == "lazy", webhook, options)
        if refused is not None:  # the URLs the credits covered are billed and processing
            raise refused
        return {"data": {"images": [processor.status(job.url) for job in submission.jobs]}}

    @router.get(paths.ASYNC_STATUS, name="asyncStatus")
    async def async_status(request: Request) -> dict[str, Any]:
        urls = [url for url in (await Fields.read(request, QUERY)).all("image_url") if isinstance(url, str) and url]
        if not urls:
            raise bad_input("missing required parameter 'image_url'")
        if knobs.unknown_url_status == "404" and any(processor.registered(url) is None for url in urls):
            raise CarCutterError(404, NO_SUCH_IMAGE_MESSAGE)
        return {"data": {"images": [processor.status(url) for url in urls]}}

    @router.get(paths.ASYNC_RESULT, name="asyncResult")
    async def async_result(request: Request) -> Response:
        url = (await Fields.read(request, QUERY)).text("image_url", required=True)
        job = processor.registered(url)
        if job is None:
            raise CarCutterError(404, NO_SUCH_IMAGE_MESSAGE)
        status, _ = job.state(processor.now, knobs.result_expiry_seconds)
        if status == "expired":
            raise CarCutterError(410, EXPIRED_MESSAGE)
        if status != "final":
            raise CarCutterError(guesses.CC_RESULT_NOT_READY_STATUS, f"{NO_SUCH_IMAGE_MESSAGE} (status {status})")
        _require_acceptable(knobs, request, job.media_type)
        counters.count_result_download(url)
        if knobs.result_body == "html":
            return Response(guesses.CC_RESULT_HTML_PAGE, media_type="text/html")
        return Response(b"" if knobs.result_body == "empty" else job.result, media_type=job.media_type)

    return router


def _sha256(body: bytes | None) -> str | None:
    return hashlib.sha256(body).hexdigest() if body else None
