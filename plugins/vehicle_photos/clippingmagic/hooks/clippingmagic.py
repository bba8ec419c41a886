"""`ClippingMagicHook`: one method per Clipping Magic operation (docs/clipping-magic-api.md), with its retry
rules (`vehicle_photos.clippingmagic.utils.retries`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property, partial
from pathlib import PurePosixPath
from typing import Any, BinaryIO, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret
from requests_toolbelt import MultipartEncoder

from vehicle_photos.clippingmagic.exceptions import (
    API,
    ApiError,
    RateLimitedError,
    ServerError,
    TransportError,
    error_from_response,
    storage_error,
)
from vehicle_photos.clippingmagic.utils.connection import (
    DEFAULT_CONN_ID,
    ClippingMagicConnectionType,
    ClippingMagicSettings,
)
from vehicle_photos.clippingmagic.utils.images import ImageInput, PreparedImage, prepared_image
from vehicle_photos.clippingmagic.utils.list_window import LIST_PAGE_MAX, ListAnchor, anchor_of, images_after
from vehicle_photos.clippingmagic.utils.models import (
    ACCEPTED_MEDIA,
    JSON,
    RESULT,
    ClippingMagicImage,
    DownloadedResult,
    check_result_format,
    filename_from_content_disposition,
)
from vehicle_photos.clippingmagic.utils.retries import RETRIED_ERRORS, RateLimitCounter
from vehicle_photos.image_common.api_errors import transport_error
from vehicle_photos.image_common.api_metrics import count_api_call
from vehicle_photos.image_common.policy import DEFAULT_MAX_PIXELS
from vehicle_photos.image_common.registration import DEFAULT_REGISTRATION_GRACE_SECONDS
from vehicle_photos.image_common.urls import redact_url

T = TypeVar("T")
ACCEPT_JSON = "application/json"
# How often an upload whose answer was lost is looked for in the list during the registration grace period.
LOOK_AGAIN_SECONDS = 5.0
_CONNECT_TIMEOUT = 10.0
_MAX_STORAGE_REDIRECTS = 3
_CHUNK_BYTES = 1024 * 1024


class _UploadedAlready(Exception):
    """The upload was processed (its image id is known) but its answer did not arrive whole."""

    def __init__(self, image_id: int) -> None:
        super().__init__(f"image {image_id} was uploaded but its answer did not arrive whole")
        self.image_id = image_id


class ClippingMagicHook(ClippingMagicConnectionType, BaseHook):
    """Talks to Clipping Magic with the API id (login) and key (password) of an Airflow connection.

    :param clippingmagic_conn_id: the "clippingmagic" connection (host defaults to https://clippingmagic.com;
        plain http is refused except on loopback; the extra may set `timeout` and the retry rules).
    :param max_in_flight: requests this hook may have in flight at once, over all threads; a thread holds its
        place while it backs off, so the documented per-thread back-off still spaces out the requests.
    :param registration_grace_seconds: an upload that may have reached Clipping Magic (its answer was lost, or
        a server error) is looked for by its name over this long before it is sent again: the list may show
        an upload late, and an upload may be processed after the client gave up waiting.
    :param sleep: how to wait before a retry (tests pass a recorder).
    """

    def __init__(
        self,
        clippingmagic_conn_id: str = DEFAULT_CONN_ID,
        *,
        max_in_flight: int | None = None,
        registration_grace_seconds: float = DEFAULT_REGISTRATION_GRACE_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self.clippingmagic_conn_id = clippingmagic_conn_id
        self.registration_grace_seconds = float(registration_grace_seconds)
        self.sleep = sleep
        self._anchor_lock = threading.Lock()
        self._anchor: ListAnchor | None = None
        self._places = threading.BoundedSemaphore(max_in_flight) if max_in_flight else None
        self._threads = threading.local()  # each thread's session, and whether it holds a place

    @cached_property
    def settings(self) -> ClippingMagicSettings:
        settings = ClippingMagicSettings.from_connection(self.get_connection(self.clippingmagic_conn_id))
        mask_secret(settings.api_key)
        return settings

    @cached_property
    def rate_limits(self) -> RateLimitCounter:
        return RateLimitCounter(self.settings.retry)

    def longest_call_seconds(self) -> float:
        """How long one call may take at worst: every attempt timing out, the back-off between them, and the
        registration grace period spent asking for a lost upload before each retry."""
        rules = self.settings.retry
        waits = sum(rules.failure_wait(failure) or 0.0 for failure in range(1, rules.max_attempts))
        attempts = rules.max_attempts * (_CONNECT_TIMEOUT + self.settings.timeout)
        return attempts + waits + (rules.max_attempts - 1) * self.registration_grace_seconds

    def get_conn(self) -> requests.Session:
        """The calling thread's session: the API asks for threads that work independently. It holds no
        credentials: each API request carries them, storage requests never do (`_send`)."""
        session = getattr(self._threads, "session", None)
        if session is None:
            session = self._threads.session = requests.Session()
            session.trust_env = False  # no netrc credentials on storage requests either
        return session

    def test_connection(self) -> tuple[bool, str]:
        """The connection form's "Test" button: reads the account, which costs nothing."""
        try:
            account = self.get_account()
        except ApiError as error:
            return False, str(error)
        return True, (
            f"Connected: plan {account.get('subscriptionPlan')} ({account.get('subscriptionState')}), "
            f"{account.get('credits')} credits"
        )

    # Uploads

    def upload(
        self,
        image: ImageInput,
        *,
        test: bool = False,
        filename: str | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        after: ListAnchor | None = None,
    ) -> ClippingMagicImage:
        """Upload without Auto-Clip (free), for a person to clip in ClippingMagic.js. An upload whose answer was
        lost is looked for by its file name (give a unique one) among the images listed after `after` (default:
        `list_anchor()`) instead of being sent again."""
        after = after or self.list_anchor()
        with prepared_image(image, filename, max_pixels) as prepared:
            try:
                return self._call(
                    "POST", "/images", _image_of, body=_multipart(prepared, test, None),
                    before_retry=partial(self._raise_if_uploaded, prepared.filename, after),
                )  # fmt: skip
            except _UploadedAlready as uploaded:
                return self.get_image(uploaded.image_id)

    def auto_clip(
        self,
        image: ImageInput,
        output: BinaryIO,
        *,
        result_format: str = RESULT,
        test: bool = False,
        filename: str | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        after: ListAnchor | None = None,
    ) -> DownloadedResult:
        """Upload with Auto-Clip and write its `result_format` file into the seekable `output`; the result names
        the new image's id. A production result is charged, so the image is never uploaded twice here: a file
        cut off after the answer named the image is downloaded by id (repeats are free), and before an upload is
        sent again after a lost answer, it is looked for by its file name (give a name unique to the image and
        its options) among the images listed after `after` (default: `list_anchor()`), over the registration
        grace period; a match is downloaded instead."""
        check_result_format(result_format)
        start = _start_of(output)
        after = after or self.list_anchor()
        with prepared_image(image, filename, max_pixels) as prepared:
            try:
                return self._call(
                    "POST", "/images", partial(_read_clip, result_format, output, start),
                    body=_multipart(prepared, test, result_format), accept=ACCEPTED_MEDIA[result_format],
                    before_retry=partial(self._raise_if_uploaded, prepared.filename, after),
                )  # fmt: skip
            except _UploadedAlready as uploaded:
                self.log.warning("%s; downloading it by id", uploaded)
                return self.download(uploaded.image_id, output, result_format=result_format)

    def _raise_if_uploaded(self, filename: str, after: ListAnchor, error: ApiError) -> None:
        """Before an upload is sent again: if the failed attempt may have been processed (no answer, or a server
        error), it is asked for over the registration grace period; found, that is the upload."""
        if isinstance(error, ServerError) or (isinstance(error, TransportError) and error.sent):
            found = self.await_upload(PurePosixPath(filename).stem, after)
            if found is not None:
                raise _UploadedAlready(found.id)

    # Images

    def download(self, image_id: int, output: BinaryIO, *, result_format: str = RESULT) -> DownloadedResult:
        """Write a result file into the seekable `output`, following the redirect to its storage. A production
        result costs a credit on its first download per revision; repeats are free."""
        check_result_format(result_format)
        start = _start_of(output)
        return self._call(
            "GET", f"/images/{int(image_id)}",
            lambda response: _write_result(response, int(image_id), result_format, output, start),
            params={} if result_format == RESULT else {"format": result_format}, accept=ACCEPTED_MEDIA[result_format],
        )  # fmt: skip

    def get_image(self, image_id: int) -> ClippingMagicImage:
        """The Image JSON Object (`format=json`, free): tells the current `resultRevision`."""
        return self._call("GET", f"/images/{int(image_id)}", _image_of, params={"format": JSON})

    def list_images(self, page_size: int = LIST_PAGE_MAX) -> Iterator[ClippingMagicImage]:
        """Every image of the account, page after page, without their secrets (`get_image` has them)."""
        offset, page_size = 0, min(page_size, LIST_PAGE_MAX)
        while True:
            images = self.list_page(offset, page_size)
            yield from images
            if len(images) < page_size:
                return
            offset += len(images)

    def list_page(self, offset: int, limit: int = LIST_PAGE_MAX) -> list[ClippingMagicImage]:
        """One page of the list, without secrets."""
        page = self._call("GET", "/images", _json_of, params={"limit": limit, "offset": offset})
        images = page.get("images") if isinstance(page, dict) else None
        if not isinstance(images, list):
            raise ApiError(API, "the list answer has no images", status=200)
        return [ClippingMagicImage.from_json(image, keep_secret=False) for image in images]

    def list_anchor(self) -> ListAnchor | None:
        """Where the account's list ended when this hook first read it (a few requests, once): every upload made
        after that is listed after it, so a lost upload is looked for only there. None while the list cannot be
        read (a lost upload is then looked for among the newest images only)."""
        with self._anchor_lock:
            if self._anchor is None:
                try:
                    self._anchor = anchor_of(self.list_page)
                except ApiError as error:
                    self.log.warning("could not read where the image list ends (%s); will try again", error)
            return self._anchor

    def find_upload(self, upload_name: str, after: ListAnchor | None = None) -> ClippingMagicImage | None:
        """The newest image uploaded as `upload_name` (any extension) among those listed after `after`; without
        an anchor, among the newest images only (`list_window.UNANCHORED_PAGES`)."""
        found = None
        for image in images_after(self.list_page, after):
            stem = PurePosixPath(image.original_filename or "").stem
            if stem == upload_name and (found is None or image.id > found.id):
                found = image
        return found

    def await_upload(
        self, upload_name: str, after: ListAnchor | None, grace_seconds: float | None = None
    ) -> ClippingMagicImage | None:
        """`find_upload`, asked again and again over `grace_seconds` (default: the hook's registration grace),
        and once more at its end: the upload, or None once the service had all that time to list it."""
        grace = self.registration_grace_seconds if grace_seconds is None else float(grace_seconds)
        deadline = time.monotonic() + grace
        interval = max(0.1, min(LOOK_AGAIN_SECONDS, grace / 5))
        while True:
            found = self.find_upload(upload_name, after)
            left = deadline - time.monotonic()
            if found is not None or left <= 0:
                return found
            self.sleep(min(interval, left))

    def delete(self, image_id: int) -> ClippingMagicImage:
        """Delete an image; returns the deleted Image JSON Object."""
        return self._call("POST", f"/images/{int(image_id)}/delete", _image_of)

    def get_account(self) -> dict[str, Any]:
        """`subscriptionPlan`, `subscriptionState` and `credits`."""
        return self._call("GET", "/account", _json_of)

    # Transport

    def _call(
        self,
        method: str,
        path: str,
        read: Callable[[requests.Response], T],
        *,
        accept: str = ACCEPT_JSON,
        before_retry: Callable[[ApiError], None] | None = None,
        **request: Any,
    ) -> T:
        """One request and the reading of its answer, retried by Clipping Magic's rules; `before_retry` may
        stop a retry by raising."""
        failures = 0
        with self.request_place():
            while True:
                try:
                    answer = self._send(method, path, read, accept, **request)
                except RETRIED_ERRORS as error:
                    if isinstance(error, RateLimitedError):
                        wait = self.rate_limits.wait_after_429()
                    else:
                        failures += 1
                        wait = self.settings.retry.failure_wait(failures)
                    if wait is None:
                        raise
                    self.log.warning("Clipping Magic %s %s failed (%s); retrying in %.1f s", method, path, error, wait)
                    self.sleep(wait)
                    if before_retry is not None:
                        before_retry(error)
                    continue
                self.rate_limits.reset()
                return answer

    def _send(
        self,
        method: str,
        path: str,
        read: Callable[[requests.Response], T],
        accept: str,
        *,
        params: dict[str, Any] | None = None,
        body: Callable[[], MultipartEncoder] | None = None,
    ) -> T:
        """One request, no retry: the answer read, or the matching ApiError. A download's redirect to the
        result's storage is followed here, without the API credentials: the storage link is signed on its own,
        and S3 refuses a request that carries a second authentication."""
        data = body() if body else None
        headers = {"Accept": accept, **({"Content-Type": data.content_type} if data else {})}
        session = self.get_conn()
        try:
            with session.request(
                method, f"{self.settings.api_url}{path}", params=params, data=data, headers=headers, stream=True,
                auth=self.settings.auth, allow_redirects=False, timeout=(_CONNECT_TIMEOUT, self.settings.timeout),
            ) as response:  # fmt: skip
                count_api_call("clippingmagic", response.status_code)
                if response.status_code >= 400:
                    raise error_from_response(response.status_code, response.text, secret=self.settings.api_key)
                if not response.is_redirect:
                    return read(response)
                location = urljoin(response.url, response.headers["Location"])
        except requests.RequestException as error:
            raise transport_error(API, error, path) from None
        return self._read_storage(session, location, accept, read)

    def _read_storage(
        self, session: requests.Session, location: str, accept: str, read: Callable[[requests.Response], T]
    ) -> T:
        """GET a result from its storage link (and the storage's own redirects), never with credentials."""
        for _ in range(_MAX_STORAGE_REDIRECTS + 1):
            if urlsplit(location).scheme not in ("http", "https"):
                raise ApiError(API, f"the download redirected to an unsupported location {redact_url(location)!r}")
            try:
                with session.get(
                    location, headers={"Accept": accept}, stream=True, allow_redirects=False,
                    timeout=(_CONNECT_TIMEOUT, self.settings.timeout),
                ) as response:  # fmt: skip
                    if response.status_code >= 400:
                        raise storage_error(response.status_code, response.text)
                    if not response.is_redirect:
                        return read(response)
                    location = urljoin(location, response.headers["Location"])
            except requests.RequestException as error:
                raise transport_error(API, error, "the result storage") from None
        raise ApiError(API, f"more than {_MAX_STORAGE_REDIRECTS} redirects from the result storage")

    @contextmanager
    def request_place(self) -> Iterator[None]:
        """One of the `max_in_flight` places, held by the calling thread for a whole call (its retries, and the
        lookups before them, included) or for several: a thread holding one reuses it."""
        if self._places is None or getattr(self._threads, "holds_place", False):
            yield
            return
        with self._places:
            self._threads.holds_place = True
            try:
                yield
            finally:
                self._threads.holds_place = False


def _image_of(response: requests.Response) -> ClippingMagicImage:
    try:
        return ClippingMagicImage.from_json(_json_of(response)["image"])
    except (KeyError, TypeError, ValueError):
        raise ApiError(API, "the answer is not an Image JSON Object", status=response.status_code) from None


def _json_of(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ApiError(API, "the answer is not JSON", status=response.status_code) from None


def _multipart(prepared: PreparedImage, test: bool, result_format: str | None) -> Callable[[], MultipartEncoder]:
    """A fresh streaming multipart body per attempt: the image is read from its stream, not held in memory."""

    def build() -> MultipartEncoder:
        fields: dict[str, Any] = {"image": (prepared.filename, prepared.rewind(), prepared.content_type)}
        if test:
            fields["test"] = "true"
        if result_format:
            fields["format"] = result_format
        return MultipartEncoder(fields)

    return build


def _read_clip(result_format: str, output: BinaryIO, start: int, response: requests.Response) -> DownloadedResult:
    """The Auto-Clip answer: the image id from its headers, then the file."""
    image_id = response.headers.get("x-amz-meta-id", "")
    if not image_id.isdigit():
        raise ApiError(API, "the Auto-Clip answer has no valid x-amz-meta-id header", status=response.status_code)
    try:  # the image secret in its headers is not kept: nothing here edits the image
        return _write_result(response, int(image_id), result_format, output, start)
    except TransportError:
        raise _UploadedAlready(int(image_id)) from None


def _start_of(output: BinaryIO) -> int:
    if not output.seekable():
        raise ValueError("output must be a seekable file object: a retried download rewrites it from the start")
    return output.tell()


def _write_result(
    response: requests.Response, image_id: int, result_format: str, output: BinaryIO, start: int
) -> DownloadedResult:
    output.seek(start)
    output.truncate()
    size = 0
    try:
        for chunk in response.iter_content(_CHUNK_BYTES):
            output.write(chunk)
            size += len(chunk)
    except requests.RequestException as error:
        cut_off = f"the result of image {image_id} was cut off ({type(error).__name__})"
        raise TransportError(API, cut_off, sent=True) from None
    revision = response.headers.get("x-amz-meta-resultrevision", "")
    return DownloadedResult(
        image_id=image_id,
        format=result_format,
        result_revision=int(revision) if revision.isdigit() else None,
        filename=filename_from_content_disposition(response.headers.get("Content-Disposition")),
        content_type=response.headers.get("Content-Type"),
        size=size,
    )
