"""One exception hierarchy for both APIs (shared design: "Errors"), so operators decide per class:

| class | when | retryable |
|---|---|---|
| `AuthError` | 401 / 403: credentials refused or not allowed | no |
| `CreditsError` | 402 (or a billing refusal): no credits left; final for the whole batch | no |
| `NotFoundError` | 404: no such image / vehicle / feature | no |
| `ExpiredError` | 410: the result is gone | no |
| `RateLimitedError` | 429 | yes |
| `ServerError` | 5xx | yes |
| `BadRequestError` | any other 4xx: the input was refused | no |
| `RequestTooLongError` | 414 / 431: the request's URL or headers are too long (a `BadRequestError`) | no |
| `TransportError` | no usable answer (timeout, refused or dropped connection) | yes |
| `ConfigError` | the connection or the call is set up wrongly; no request was made | no |

`TransportError.sent` is False when the request surely never reached the service (repeating it cannot bill).
Each API package maps its service's answers onto these in its own `exceptions.py`; every error names its API.
An error body may be anything (JSON, an HTML page from a proxy, text, nothing, bytes in the wrong charset):
`error_text` makes one short line of it for people, with signed URLs and secrets taken out.
"""

from __future__ import annotations

import codecs
import html
import re
from collections.abc import Iterable
from typing import ClassVar

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from vehicle_photos.image_common.urls import redact_url

MAX_MESSAGE_CHARS = 300
# What is read of an error body: enough for any message, never a whole page of a misbehaving proxy.
MAX_ERROR_BODY_CHARS = 64 * 1024
_EXCERPT_CHARS = 200
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", flags=re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_SCRIPT_OR_STYLE = re.compile(r"<(script|style)[^>]*>.*?</\1>", flags=re.IGNORECASE | re.DOTALL)
_URL = re.compile(r"https?://[^\s\"'<>]+", flags=re.IGNORECASE)
_TARGET_WITH_QUERY = re.compile(r"(/[^\s\"'<>?]*)\?[^\s\"'<>]+")
# The hierarchy each API package re-exports from its own `exceptions` module.
__all__ = [
    "ApiError", "AuthError", "BadRequestError", "ConfigError", "CreditsError", "ExpiredError", "NotFoundError",
    "RateLimitedError", "RequestTooLongError", "ServerError", "TransportError",
]  # fmt: skip


class ApiError(Exception):
    retryable: ClassVar[bool] = False

    def __init__(self, api: str, message: str, *, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.api = api
        self.message = message[:MAX_MESSAGE_CHARS]
        self.status = status
        self.code = code

    def __str__(self) -> str:
        code = f" (code {self.code})" if self.code is not None else ""
        if self.status is None:
            return f"{self.api}: {self.message}{code}"
        return f"{self.api} answered {self.status}: {self.message}{code}"


class AuthError(ApiError):
    pass


class CreditsError(ApiError):
    pass


class NotFoundError(ApiError):
    pass


class ExpiredError(ApiError):
    pass


class RateLimitedError(ApiError):
    retryable = True


class ServerError(ApiError):
    retryable = True


class BadRequestError(ApiError):
    pass


class RequestTooLongError(BadRequestError):
    """414 / 431: the same question asked in smaller parts may be answered."""


class ConfigError(ApiError, ValueError):
    pass


class TransportError(ApiError):
    retryable = True

    def __init__(self, api: str, message: str, *, sent: bool) -> None:
        super().__init__(api, message)
        self.sent = sent


_BY_STATUS: dict[int, type[ApiError]] = {
    401: AuthError,
    402: CreditsError,
    403: AuthError,
    404: NotFoundError,
    410: ExpiredError,
    414: RequestTooLongError,
    429: RateLimitedError,
    431: RequestTooLongError,
}


def error_class_for_status(status: int) -> type[ApiError]:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else BadRequestError


def transport_error(api: str, error: requests.RequestException, where: str) -> TransportError:
    """A `requests` failure as a TransportError: `sent` is False only when no connection was ever made."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    never_sent = isinstance(error, requests.ConnectTimeout) or isinstance(
        reason, NewConnectionError | ConnectTimeoutError
    )
    cause = type(reason).__name__ if reason is not None else "no answer"
    return TransportError(api, f"{type(error).__name__} ({cause}) on {where}", sent=not never_sent)


def decode_body(raw: bytes, charset: str | None) -> str:
    """Bytes of an answer as text, whatever their charset claims: undecodable bytes become U+FFFD."""
    try:
        encoding = codecs.lookup(charset or "utf-8").name
    except LookupError:
        encoding = "utf-8"
    return raw[:MAX_ERROR_BODY_CHARS].decode(encoding, errors="replace")


def error_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """One short line for people from an error message or a whole error body (an HTML page's title, or its
    text): URLs lose their query strings (signatures, tokens) and `secrets` are blanked out."""
    text = text[:MAX_ERROR_BODY_CHARS]
    if "<" in text and ">" in text:
        title = _TITLE.search(text)
        page = _SCRIPT_OR_STYLE.sub(" ", text)
        text = title.group(1) if title and title.group(1).strip() else _TAG.sub(" ", page)
        text = html.unescape(text)
    text = _URL.sub(lambda found: redact_url(found.group(0)), text)
    text = _TARGET_WITH_QUERY.sub(lambda found: f"{found.group(1)}?…", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return " ".join(text.split())[:_EXCERPT_CHARS]
