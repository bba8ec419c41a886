"""Clipping Magic's errors: the shared hierarchy of `image_common.api_errors`, and how Clipping Magic's answers
map onto it (docs/clipping-magic-api.md, "Errors").

Clipping Magic answers an Error JSON Object, `{"error": {"status", "code", "message"}}`, but warns that an
internal failure may answer something else (an HTML page from a proxy), so any body is read. A refusal that
speaks of credits or the subscription is a `CreditsError` whatever its 4xx status: no retry can help it.
"""

from __future__ import annotations

import json
import re

from vehicle_photos.image_common.api_errors import *  # noqa: F403 - the shared hierarchy, re-exported
from vehicle_photos.image_common.api_errors import ApiError, CreditsError, error_class_for_status

API = "Clipping Magic"
_BILLING_WORDS = ("credit", "subscription")
_EXCERPT_CHARS = 200


def error_from_response(status: int, body: str) -> ApiError:
    """The typed error for a non-2xx answer, whether or not its body is an Error JSON Object."""
    code, message = _error_object(body)
    if message is None:
        text = " ".join(re.sub(r"<[^>]*>", " ", body).split())[:_EXCERPT_CHARS]
        message = f"HTTP {status}: {text}" if text else f"HTTP {status} with an empty body"
    error_class = error_class_for_status(status)
    if 400 <= status < 500 and status != 429 and any(word in message.lower() for word in _BILLING_WORDS):
        error_class = CreditsError
    return error_class(API, message, status=status, code=code)


def _error_object(body: str) -> tuple[int | None, str | None]:
    """(code, message) of an Error JSON Object; (None, None) for any other body."""
    try:
        error = json.loads(body)["error"]
        code, message = error.get("code"), str(error.get("message") or "").strip()
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, None
    return (code if isinstance(code, int) else None), message or None
