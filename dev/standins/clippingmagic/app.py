"""The Clipping Magic API (docs/clipping-magic-api.md) as a local server."""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import secrets
from typing import Any

from fastapi import APIRouter, Body, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from PIL import Image, ImageColor
from starlette.datastructures import UploadFile

from dev.standins import guesses
from dev.standins.clippingmagic.contract import (
    DOWNLOAD_PARAMETERS,
    LIST_PARAMETERS,
    UPLOAD_FIELDS,
    check_fields,
)
from dev.standins.clippingmagic.errors import ClippingMagicError, error_responder, install_error_handlers
from dev.standins.clippingmagic.storage import StorageLink, StorageLinks, result_headers, storage_router
from dev.standins.clippingmagic.store import RESULT_FORMATS, ImageStore, StoredImage, result_media_type
from dev.standins.common import (
    BillingLedger,
    CreditsExhausted,
    FaultInjector,
    Knobs,
    RequestCounters,
    emulator_router,
    pixels,
    public_url,
)
from dev.standins.common.accept import admits

ACCEPTED_FORMATS = ("BMP", "GIF", "JPEG", "PNG", "TIFF")
MAX_UPLOAD_PIXELS = 16_777_216
SHRINK_ABOVE_PIXELS = 4_194_404
FORMATS = ("json", *RESULT_FORMATS)


class ClippingMagicState:
    def __init__(self, knobs: Knobs):
        self.knobs = knobs
        self.store = ImageStore(knobs.seed)
        self.links = StorageLinks()
        self.ledger = BillingLedger(knobs.credits)
        self.counters = RequestCounters()
        self.charged_revisions: set[tuple[int, int]] = set()

        self.store.preload(knobs.preloaded_images)
        knobs.on_change(self._preload_if_changed)

    def reset(self) -> None:
        self.store.reset(self.knobs.seed)
        self.store.preload(self.knobs.preloaded_images)
        self.links.reset()
        self.charged_revisions.clear()

    def _preload_if_changed(self, changed: dict[str, Any]) -> None:
        if "preloaded_images" in changed:
            self.store.preload(self.knobs.preloaded_images)

    def image(self, image_id: str) -> StoredImage:
        image = self.store.images.get(int(image_id)) if image_id.isdigit() else None
        if image is None:
            raise ClippingMagicError(guesses.CM_STATUS_NOT_FOUND, guesses.CM_CODE_NOT_FOUND, "Image not found.")
        return image

    def charge_download(self, image: StoredImage, revision: int) -> None:
        """Production results cost one credit on their first download; test results and repeats are free."""
        if image.test or (image.id, revision) in self.charged_revisions:
            return
        try:
            self.ledger.charge([str(image.id)])
        except CreditsExhausted:
            raise _credits_exhausted() from None
        self.charged_revisions.add((image.id, revision))


def _credits_exhausted() -> ClippingMagicError:
    return ClippingMagicError(
        guesses.CM_STATUS_CREDITS_EXHAUSTED,
        guesses.CM_CODE_CREDITS_EXHAUSTED,
        "Insufficient credits to download the production result.",
    )


def _bad_parameter(message: str) -> ClippingMagicError:
    return ClippingMagicError(400, guesses.CM_CODE_BAD_PARAMETER, message)


def _require_acceptable(knobs: Knobs, request: Request, media_type: str) -> None:
    if knobs.strict_accept and not admits(request, media_type):
        message = guesses.NOT_ACCEPTABLE_MESSAGE.format(media_type=media_type)
        raise ClippingMagicError(406, guesses.CM_CODE_NOT_ACCEPTABLE, message)


def _basic_auth(knobs: Knobs):
    def require_credentials(request: Request) -> None:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        valid = (
            scheme.lower() == "basic"
            and secrets.compare_digest(user.encode(), knobs.api_id.encode())
            and secrets.compare_digest(password.encode(), knobs.api_key.encode())
        )
        if not valid:
            raise ClippingMagicError(401, guesses.CM_CODE_UNAUTHORIZED, "Invalid API credentials.")

    return require_credentials


def read_upload(data: bytes, fast: bool) -> tuple[tuple[int, int], Image.Image | None]:
    """Recognise the format by content, enforce the documented size limits, shrink when above the bar.

    Answers the stored size and the decoded pixels; fast mode reads the header only and keeps no pixels.
    """
    try:
        image = pixels.open_image(data, ACCEPTED_FORMATS, MAX_UPLOAD_PIXELS)
        size = shrunk_size(image.width, image.height)
        if fast:
            return size, None
        photo = pixels.decode(image)
    except pixels.ImageTooLarge as error:
        message = f"{str(error).capitalize()}."
        raise ClippingMagicError(guesses.CM_STATUS_IMAGE_TOO_LARGE, guesses.CM_CODE_IMAGE_TOO_LARGE, message) from None
    except pixels.UnreadableImage:
        raise ClippingMagicError(400, guesses.CM_CODE_IMAGE_UNREADABLE, "Failed to read the supplied image. ") from None
    return size, photo if photo.size == size else photo.resize(size, Image.Resampling.LANCZOS)


def shrunk_size(width: int, height: int) -> tuple[int, int]:
    if width * height <= SHRINK_ABOVE_PIXELS:
        return width, height
    scale = math.sqrt(SHRINK_ABOVE_PIXELS / (width * height))
    new_width, new_height = max(1, int(width * scale)), max(1, int(height * scale))
    while new_width * new_height > SHRINK_ABOVE_PIXELS:
        new_width, new_height = new_width - 1, max(1, round(new_width * height / width) - 1)
    return new_width, new_height


def _parse_test(value: Any) -> bool:
    if value is None:
        return False
    text = str(value).strip().lower()
    if text not in guesses.CM_TEST_WORDS:
        raise _bad_parameter("Parameter 'test' must be true or false.")
    return text == "true"


def _parse_format(value: Any, allowed: tuple[str, ...], default: str) -> str:
    fmt = default if value is None else str(value)
    if fmt not in allowed:
        raise _bad_parameter(f"Parameter 'format' must be one of {', '.join(allowed)}.")
    return fmt


def _parse_int(params: Any, name: str, default: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise _bad_parameter(f"Parameter '{name}' must be an integer.") from None


def api_router(state: ClippingMagicState) -> APIRouter:
    knobs = state.knobs
    router = APIRouter(prefix="/api/v1", dependencies=[Depends(_basic_auth(knobs))])

    async def result_file(image: StoredImage, fmt: str) -> Response:
        rendered = await asyncio.to_thread(image.render, image.result_revision, fmt, knobs.fast)
        headers = result_headers(image.result_revision, rendered.filename)
        headers |= {"x-amz-meta-id": str(image.id), "x-amz-meta-secret": image.secret}
        return Response(rendered.body, media_type=rendered.media_type, headers=headers)

    @router.post("/images", name="upload")
    async def upload(request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise _bad_parameter("The Content-Type has to be multipart/form-data.")
        form = await request.form()
        check_fields(knobs, request.query_params.keys(), ())
        check_fields(knobs, form.keys(), UPLOAD_FIELDS)
        upload_file = form.get("image")
        if not isinstance(upload_file, UploadFile):
            raise _bad_parameter("Missing the 'image' file.")
        fmt = _parse_format(form.get("format"), FORMATS, "json")
        test = _parse_test(form.get("test"))
        if fmt != "json":
            _require_acceptable(knobs, request, result_media_type(fmt, background=None))
        if (
            fmt != "json"
            and not test
            and guesses.CM_REFUSE_PAID_UPLOAD_WITHOUT_CREDITS
            and state.ledger.credits_left <= 0
        ):
            raise _credits_exhausted()
        size, photo = await asyncio.to_thread(read_upload, await upload_file.read(), knobs.fast)
        if knobs.upload_hold_seconds:  # processing keeps going when the client gives up waiting
            await asyncio.sleep(knobs.upload_hold_seconds)
        stored = state.store.add(size, photo, upload_file.filename or "", test)
        if fmt == "json":
            return JSONResponse({"image": stored.as_json()})
        stored.add_revision()
        state.charge_download(stored, stored.result_revision)
        return await result_file(stored, fmt)

    @router.get("/images", name="list")
    async def list_images(request: Request) -> dict[str, Any]:
        check_fields(knobs, request.query_params.keys(), LIST_PARAMETERS)
        limit = _parse_int(request.query_params, "limit", guesses.CM_LIST_DEFAULT_LIMIT)
        offset = _parse_int(request.query_params, "offset", 0)
        limit, offset = min(max(limit, 1), guesses.CM_LIST_MAX_LIMIT), max(offset, 0)
        descending = knobs.list_order == "descending"
        images = state.store.listed(offset, limit, knobs.list_delay, descending)
        return {"images": images, "limit": limit, "offset": offset}

    @router.get("/images/{image_id}", name="download")
    async def download(image_id: str, request: Request) -> Response:
        check_fields(knobs, request.query_params.keys(), DOWNLOAD_PARAMETERS)
        image = state.image(image_id)
        fmt = _parse_format(request.query_params.get("format"), FORMATS, "result")
        if fmt == "json":
            return JSONResponse({"image": image.as_json()})
        revision = image.result_revision
        if revision == 0:
            raise ClippingMagicError(
                guesses.CM_STATUS_NO_RESULT, guesses.CM_CODE_NO_RESULT, "No result available for this image yet."
            )
        _require_acceptable(knobs, request, image.media_type(revision, fmt))
        state.charge_download(image, revision)
        location = state.links.create(StorageLink(image.id, revision, fmt))
        return RedirectResponse(public_url(knobs) + location, status_code=guesses.CM_DOWNLOAD_REDIRECT_STATUS)

    @router.post("/images/{image_id}/delete", name="delete")
    async def delete(image_id: str, request: Request) -> dict[str, Any]:
        check_fields(knobs, request.query_params.keys(), ())
        image = state.image(image_id)
        del state.store.images[image.id]
        return {"image": image.as_json()}

    @router.get("/account", name="account")
    async def account(request: Request) -> dict[str, Any]:
        check_fields(knobs, request.query_params.keys(), ())
        return {
            "subscriptionPlan": guesses.CM_SUBSCRIPTION_PLAN,
            "subscriptionState": guesses.CM_SUBSCRIPTION_STATE,
            "credits": state.ledger.credits_left,
        }

    return router


def edit_router(state: ClippingMagicState) -> APIRouter:
    """Emulator-only: what a human touching up the clip in ClippingMagic.js would cause."""
    router = APIRouter(prefix="/_emulator")

    @router.post("/images/{image_id}/edit")
    async def simulate_human_edit(
        image_id: str,
        edit: dict[str, Any] | None = Body(default=None),  # noqa: B008
    ) -> dict[str, Any]:
        image = state.image(image_id)
        background = (edit or {}).get("background", guesses.CM_DEFAULT_EDIT_BACKGROUND)
        if background is not None:
            try:
                ImageColor.getrgb(background)
            except (ValueError, AttributeError):
                raise _bad_parameter(f"Unknown background colour {background!r}.") from None
        image.add_revision(background)
        return {"image": image.as_json()}

    return router


def create_app(knobs: Knobs) -> FaultInjector:
    state = ClippingMagicState(knobs)
    app = FastAPI(title="Clipping Magic stand-in", docs_url="/_emulator/docs", openapi_url="/_emulator/openapi.json")
    install_error_handlers(app, knobs)
    app.include_router(api_router(state))
    app.include_router(storage_router(state.links, state.store, knobs))
    app.include_router(edit_router(state))
    faults = FaultInjector(
        app,
        knobs,
        state.counters,
        error_responder(knobs),
        unmetered=(guesses.CM_STORAGE_PREFIX,),
        countdown_knob="rate_limit_next",
        lost_answer_knobs={"upload": "lost_upload_answers"},
    )

    def reset_state() -> None:
        state.reset()
        faults.reset()

    app.include_router(emulator_router(knobs, state.counters, state.ledger, reset_state))
    return faults
