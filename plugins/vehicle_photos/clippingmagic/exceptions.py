"""Clipping Magic's errors: the shared hierarchy of `image_common.api_errors`, and how Clipping Magic's answers
map onto it (docs/clipping-magic-api.md, "Errors").

Clipping Magic answers an Error JSON Object, `{"error": {"status", "code", "message"}}`, but warns that an
internal failure may answer something else (an HTML page from a proxy), so any body is read. A refusal that
speaks of credits or the subscription is a `CreditsError` whatever its 4xx status: no retry can help it.
"""

from __future__ import annotations

import json

from vehicle_photos.image_common.api_errors import *  # noqa: F403 - the shared hierarchy, re-exported
from vehicle_photos.image_common.api_errors import (
    ApiError,
    CreditsError,
    NotFoundError,
    ServerError,
    error_class_for_status,
    error_text,
)

API = "Clipping Magic"
_BILLING_WORDS = ("credit", "subscription")


def error_from_response(status: int, body: str, secret: str | None = None) -> ApiError:
    """The typed error for a non-2xx answer, whether or not its body is an Error JSON Object; `secret` (the API
    key) is blanked out of the message, and so are signed URLs."""
    code, message = _error_object(body)
    if message is None:
        text = error_text(body, [secret])
        message = f"HTTP {status}: {text}" if text else f"HTTP {status} with an empty body"
    else:
        message = error_text(message, [secret]) or f"HTTP {status}"
    error_class = error_class_for_status(status)
    if 400 <= status < 500 and status != 429 and any(word in message.lower() for word in _BILLING_WORDS):
        error_class = CreditsError
    return error_class(API, message, status=status, code=code)


class StorageError(ServerError):
    """The result storage a download redirected to refused the request (an expired or refused link): it is
    retried from the API, which answers a fresh link (repeat downloads are free)."""


def storage_error(status: int, body: str) -> ApiError:
    """The storage's (S3's) answer to a result fetch: 404 is a result that is gone, anything else a
    `StorageError`, retried through the API."""
    text = error_text(body) or "no details"
    if status == 404:
        return NotFoundError(API, f"the result storage has no such file ({text})", status=status)
    return StorageError(API, f"the result storage answered {status} ({text})", status=status)


def _error_object(body: str) -> tuple[int | None, str | None]:
    """(code, message) of an Error JSON Object; (None, None) for any other body."""
    try:
        error = json.loads(body)["error"]
        code, message = error.get("code"), str(error.get("message") or "").strip()
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, None
    return (code if isinstance(code, int) else None), message or None
