"""Synchronous hook: one method per Clipping Magic API operation, with the documented retry rules."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import Any, BinaryIO, TypeVar

import requests
from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret
from requests_toolbelt import MultipartEncoder
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from clippingmagic.connection import ClippingMagicSettings, settings_from_connection
from clippingmagic.exceptions import ClippingMagicError, RateLimitError, ServerError, error_from_response
from clippingmagic.images import ImageInput, PreparedImage, prepared_image
from clippingmagic.models import (
    JSON,
    RESULT,
    RESULT_FORMATS,
    ClippingMagicImage,
    DownloadedResult,
    filename_from_content_disposition,
)

T = TypeVar("T")

# Failures after which the server may have processed the request although no answer came back.
LOST_ANSWER_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
TRANSIENT_ERRORS = (RateLimitError, ServerError, *LOST_ANSWER_ERRORS)
DOWNLOAD_CHUNK_BYTES = 1024 * 1024
LIST_PAGE_MAX = 100


class _UploadedAlready(ClippingMagicError):
    """The upload was processed (its image id is known) but its result did not arrive."""

    def __init__(self, image_id: int, what_happened: str) -> None:
        super().__init__(what_happened)
        self.image_id = image_id


class ClippingMagicHook(BaseHook):
    """
    Talk to the Clipping Magic API with the API id and key of an Airflow connection.

    Retries: 5xx, timeouts and dropped connections get bounded exponential backoff (``max_attempts``);
    429 gets the documented linear back-off of ``rate_limit_base_wait`` x the number of consecutive 429s
    seen by the calling thread, reset by a success; other 4xx are raised at once as typed errors.

    :param clippingmagic_conn_id: connection with the API id as login, the API key as password and,
        optionally, the host (default ``https://clippingmagic.com``; plain http only for loopback).
    :param rate_limit_base_wait: seconds of the first 429 back-off (documented: 5).
    :param sleep: how to wait between attempts; tests pass a recorder.
    """

    conn_name_attr = "clippingmagic_conn_id"
    default_conn_name = "clippingmagic_default"
    conn_type = "clippingmagic"
    hook_name = "Clipping Magic"

    def __init__(
        self,
        clippingmagic_conn_id: str = default_conn_name,
        *,
        max_attempts: int = 5,
        backoff_base_wait: float = 1.0,
        backoff_max_wait: float = 30.0,
        rate_limit_base_wait: float = 5.0,
        max_rate_limit_waits: int = 10,
        sleep: Callable[[float], None] = time.sleep,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.clippingmagic_conn_id = clippingmagic_conn_id
        self.max_attempts = max_attempts
        self.backoff_base_wait = backoff_base_wait
        self.backoff_max_wait = backoff_max_wait
        self.rate_limit_base_wait = rate_limit_base_wait
        self.max_rate_limit_waits = max_rate_limit_waits
        self.sleep = sleep
        self._thread = threading.local()

    @cached_property
    def settings(self) -> ClippingMagicSettings:
        connection = self.get_connection(self.clippingmagic_conn_id)
        settings = settings_from_connection(connection)
        mask_secret(settings.api_key)
        return settings

    def get_conn(self) -> requests.Session:
        """The calling thread's session (requests sessions are not shared across threads)."""
        session = getattr(self._thread, "session", None)
        if session is None:
            session = requests.Session()
            session.auth = (self.settings.api_id, self.settings.api_key)
            self._thread.session = session
        return session

    # --- operations -------------------------------------------------------------------------------------

    def upload(self, image: ImageInput, *, test: bool = False, filename: str | None = None) -> ClippingMagicImage:
        """Upload for a human to clip in ClippingMagic.js (no Auto-Clip, free); returns the Image JSON Object."""
        with prepared_image(image, filename) as prepared:
            return self._call(
                "POST", "/images", _image_from_response, body=_multipart(prepared, test=test, result_format=None)
            )

    def auto_clip(
        self,
        image: ImageInput,
        output: BinaryIO,
        *,
        result_format: str = RESULT,
        test: bool = False,
        filename: str | None = None,
        on_image_id: Callable[[int], None] | None = None,
    ) -> DownloadedResult:
        """Upload with ``format=result`` (or svg / alpha mask) and stream the Auto-Clip result into ``output``.

        Never uploads the same image twice within one call, since a production result is charged:

        - ``on_image_id`` is called with the new image id as soon as the answer's headers arrive, before the
          result body, so the caller can record it. If the body is then cut off, the result is downloaded
          again by id (a repeat download of the same revision is free).
        - If the connection fails with no answer at all, the upload may still have been processed; before
          trying again the account's images are searched for ``filename`` (pass a name unique to this
          image, e.g. with a digest in it) and a match is downloaded instead of uploaded.
        """
        if result_format not in RESULT_FORMATS:
            raise ValueError(f"result_format must be one of {RESULT_FORMATS}, got {result_format!r}")
        start = _start_of(output)
        announced: list[int] = []

        def announce(image_id: int) -> None:
            if not announced:
                announced.append(image_id)
                if on_image_id:
                    on_image_id(image_id)

        def consume(response: requests.Response) -> DownloadedResult:
            image_id = _header_int(response, "x-amz-meta-id")
            if secret := response.headers.get("x-amz-meta-secret"):
                mask_secret(secret)
            announce(image_id)
            try:
                return _write_result(response, image_id, result_format, output, start)
            except TRANSIENT_ERRORS as error:
                raise _UploadedAlready(image_id, f"its result was cut off ({error})") from error

        with prepared_image(image, filename) as prepared:

            def look_for_lost_upload(previous_error: BaseException) -> None:
                if isinstance(previous_error, LOST_ANSWER_ERRORS):
                    found = self.find_image_by_filename(prepared.filename)
                    if found is not None:
                        announce(found.id)
                        raise _UploadedAlready(found.id, f"the answer to its upload was lost ({previous_error})")

            try:
                return self._call(
                    "POST", "/images", consume, body=_multipart(prepared, test=test, result_format=result_format),
                    stream=True, before_retry=look_for_lost_upload,
                )  # fmt: skip
            except _UploadedAlready as uploaded:
                self.log.warning("image %s was uploaded but %s; downloading it by id", uploaded.image_id, uploaded)
                return self.download(uploaded.image_id, output, result_format=result_format)

    def download(self, image_id: int, output: BinaryIO, *, result_format: str = RESULT) -> DownloadedResult:
        """Stream a result into the seekable file object ``output``, following the redirect to its storage.

        A production result costs one credit on its first download per revision; repeats are free.
        """
        if result_format not in RESULT_FORMATS:
            raise ValueError(f"result_format must be one of {RESULT_FORMATS}, got {result_format!r}")
        start = _start_of(output)
        params = {} if result_format == RESULT else {"format": result_format}
        return self._call(
            "GET",
            f"/images/{int(image_id)}",
            lambda response: _write_result(response, int(image_id), result_format, output, start),
            params=params,
            stream=True,
        )

    def get_image(self, image_id: int) -> ClippingMagicImage:
        """The Image JSON Object (``format=json``): free, tells the current ``resultRevision``."""
        return self._call("GET", f"/images/{int(image_id)}", _image_from_response, params={"format": JSON})

    def list_images(self, page_size: int = LIST_PAGE_MAX) -> Iterator[ClippingMagicImage]:
        """Every image of the account, page after page."""
        offset = 0
        while True:
            page = self._call(
                "GET", "/images", lambda response: response.json(), params={"limit": page_size, "offset": offset}
            )
            images = page.get("images") or []
            for image in images:
                yield ClippingMagicImage.from_json(image)
            if len(images) < int(page.get("limit") or page_size):
                return
            offset = int(page.get("offset") or offset) + len(images)

    def find_image_by_filename(self, filename: str) -> ClippingMagicImage | None:
        """The most recent image uploaded with this ``originalFilename`` (walks the whole list)."""
        found = None
        for image in self.list_images():
            if image.original_filename == filename and (found is None or image.id > found.id):
                found = image
        return found

    def delete(self, image_id: int) -> ClippingMagicImage:
        """Delete an image; returns the deleted Image JSON Object."""
        return self._call("POST", f"/images/{int(image_id)}/delete", _image_from_response)

    def get_account(self) -> dict[str, Any]:
        """``subscriptionPlan``, ``subscriptionState`` and ``credits``."""
        return self._call("GET", "/account", lambda response: response.json())

    def test_connection(self) -> tuple[bool, str]:
        """The connection form's Test button: calls the account endpoint."""
        try:
            account = self.get_account()
        except (ClippingMagicError, requests.RequestException, ValueError) as error:
            return False, str(error)
        return True, (
            f"Connected: plan {account.get('subscriptionPlan')} ({account.get('subscriptionState')}), "
            f"{account.get('credits')} credits"
        )

    # --- one request, with retries ----------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        consume: Callable[[requests.Response], T],
        *,
        params: dict[str, Any] | None = None,
        body: Callable[[], tuple[Any, dict[str, str]]] | None = None,
        stream: bool = False,
        before_retry: Callable[[BaseException], None] | None = None,
    ) -> T:
        other_failures = 0
        previous_error: BaseException | None = None

        def attempt() -> T:
            nonlocal other_failures, previous_error
            if previous_error is not None and before_retry is not None:
                before_retry(previous_error)
            try:
                return self._call_once(method, path, consume, params, body, stream)
            except RateLimitError as error:
                previous_error = error
                raise
            except TRANSIENT_ERRORS as error:
                previous_error = error
                other_failures += 1
                raise

        def stop(state: RetryCallState) -> bool:
            if isinstance(state.outcome.exception(), RateLimitError):
                return self.consecutive_rate_limits > self.max_rate_limit_waits
            return other_failures >= self.max_attempts

        def wait(state: RetryCallState) -> float:
            if isinstance(state.outcome.exception(), RateLimitError):
                return self.rate_limit_base_wait * self.consecutive_rate_limits
            return min(self.backoff_max_wait, self.backoff_base_wait * 2 ** (other_failures - 1))

        def log_retry(state: RetryCallState) -> None:
            self.log.warning(
                "Clipping Magic %s %s failed (%s); retrying in %.1f s",
                method, path, state.outcome.exception(), state.upcoming_sleep,
            )  # fmt: skip

        retrying = Retrying(
            retry=retry_if_exception_type(TRANSIENT_ERRORS),
            stop=stop,
            wait=wait,
            sleep=self.sleep,
            before_sleep=log_retry,
            reraise=True,
        )
        return retrying(attempt)

    def _call_once(
        self,
        method: str,
        path: str,
        consume: Callable[[requests.Response], T],
        params: dict[str, Any] | None,
        body: Callable[[], tuple[Any, dict[str, str]]] | None,
        stream: bool,
    ) -> T:
        data, headers = body() if body else (None, None)
        with self.get_conn().request(
            method,
            f"{self.settings.api_url}{path}",
            params=params,
            data=data,
            headers=headers,
            timeout=self.settings.timeout,
            stream=stream,
        ) as response:
            if response.status_code == 429:
                self._thread.consecutive_rate_limits = self.consecutive_rate_limits + 1
            if not response.ok:
                raise error_from_response(response)
            self._thread.consecutive_rate_limits = 0
            return consume(response)

    @property
    def consecutive_rate_limits(self) -> int:
        """429 answers in a row received by the calling thread."""
        return getattr(self._thread, "consecutive_rate_limits", 0)


def _image_from_response(response: requests.Response) -> ClippingMagicImage:
    return ClippingMagicImage.from_json(response.json()["image"])


def _multipart(
    prepared: PreparedImage, *, test: bool, result_format: str | None
) -> Callable[[], tuple[MultipartEncoder, dict[str, str]]]:
    """A fresh streaming multipart body per attempt (the image is read from its stream, not held in memory)."""

    def build() -> tuple[MultipartEncoder, dict[str, str]]:
        fields: dict[str, Any] = {"image": (prepared.filename, prepared.rewind(), prepared.content_type)}
        if test:
            fields["test"] = "true"
        if result_format:
            fields["format"] = result_format
        encoder = MultipartEncoder(fields)
        return encoder, {"Content-Type": encoder.content_type}

    return build


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
    for chunk in response.iter_content(DOWNLOAD_CHUNK_BYTES):
        output.write(chunk)
        size += len(chunk)
    revision = response.headers.get("x-amz-meta-resultrevision")
    return DownloadedResult(
        image_id=image_id,
        format=result_format,
        result_revision=int(revision) if revision else None,
        filename=filename_from_content_disposition(response.headers.get("Content-Disposition")),
        content_type=response.headers.get("Content-Type"),
        size=size,
    )


def _header_int(response: requests.Response, name: str) -> int:
    value = response.headers.get(name)
    if value is None or not value.strip().isdigit():
        raise ClippingMagicError(f"Clipping Magic answered a result without a valid {name} header")
    return int(value)
