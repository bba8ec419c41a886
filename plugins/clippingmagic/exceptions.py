"""One exception hierarchy for every Clipping Magic failure.

Operators decide per class: ``RateLimitError`` and ``ServerError`` are transient (the hook already
retried them), ``BillingError`` and ``AuthenticationError`` are final for the whole batch, the rest
are final for one image.
"""

from __future__ import annotations

import json

import requests


class ClippingMagicError(Exception):
    """An error answered by Clipping Magic (or found before calling it: ``status`` is then None)."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def __str__(self) -> str:
        details = ", ".join(
            f"{name} {value}" for name, value in (("status", self.status), ("code", self.code)) if value is not None
        )
        return f"{self.message} ({details})" if details else self.message


class AuthenticationError(ClippingMagicError):
    """Wrong API id / key, or the account may not use this operation (401, 403)."""


class BillingError(ClippingMagicError):
    """No credits left or no active subscription (402, or a 4xx whose message speaks of credits).

    Final: retrying cannot succeed until someone buys credits.
    """


class NotFoundError(ClippingMagicError):
    """Unknown or deleted image id, or an expired result (404, 410)."""


class RateLimitError(ClippingMagicError):
    """429 Too Many Requests; the hook backs off linearly before raising it."""


class ServerError(ClippingMagicError):
    """5xx: a Clipping Magic-internal error; the hook retried with exponential backoff."""


class BadInputError(ClippingMagicError):
    """Any other 4xx: the request itself is wrong (missing parameter, unreadable image, no result yet)."""


class UnreadableImageError(BadInputError):
    """The image could not be read on our side, before any call was made."""


_BILLING_WORDS = ("credit", "subscription")


def error_from_response(response: requests.Response) -> ClippingMagicError:
    """Turn a non-2xx answer into the typed exception, whether or not the body is an Error JSON Object."""
    return error_for(response.status_code, *parse_error_json(response.status_code, response.text))


def error_for(status: int, code: int | None, message: str) -> ClippingMagicError:
    """Pick the exception class for an HTTP status and the message Clipping Magic gave."""
    if status in (401, 403) and not _speaks_of_billing(message):
        error_class: type[ClippingMagicError] = AuthenticationError
    elif status == 402 or (400 <= status < 500 and status != 429 and _speaks_of_billing(message)):
        error_class = BillingError
    elif status in (404, 410):
        error_class = NotFoundError
    elif status == 429:
        error_class = RateLimitError
    elif status >= 500:
        error_class = ServerError
    else:
        error_class = BadInputError
    return error_class(message, status=status, code=code)


def parse_error_json(status: int, text: str) -> tuple[int | None, str]:
    """Return (code, message) from an Error JSON Object, or (None, a short excerpt) for any other body."""
    try:
        error = json.loads(text)["error"]
        return _as_int(error.get("code")), str(error.get("message") or f"HTTP {status}").strip()
    except (ValueError, KeyError, TypeError, AttributeError):
        excerpt = " ".join(text.split())[:200]
        return None, f"HTTP {status}: {excerpt}" if excerpt else f"HTTP {status} with an empty body"


def _speaks_of_billing(message: str) -> bool:
    lowered = message.lower()
    return any(word in lowered for word in _BILLING_WORDS)


def _as_int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
