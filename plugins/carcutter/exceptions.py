"""One exception hierarchy for every Car-Cutter failure, so operators can decide per class.

`retryable` says whether trying the same call again later can succeed: server errors, rate limits and
transport failures can; a 402 (credits exceeded) never does, and neither do auth or input errors.
"""

from __future__ import annotations

import json
import re
from typing import ClassVar

_MAX_MESSAGE = 300


class CarCutterError(Exception):
    """A Car-Cutter call failed. `status` is the HTTP status (None when no answer came), `code` the API's."""

    retryable: ClassVar[bool] = False

    def __init__(self, status: int | None, code: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def __str__(self) -> str:
        prefix = f"Car-Cutter answered {self.status}" if self.status is not None else "Car-Cutter call failed"
        return f"{prefix}: {self.message}"


class CarCutterConfigError(CarCutterError, ValueError):
    """The connection or the call is set up wrongly (no request was made)."""

    def __init__(self, message: str) -> None:
        super().__init__(None, None, message)


class CarCutterAuthError(CarCutterError):
    """401: the bearer token was refused."""


class CarCutterCreditsExceededError(CarCutterError):
    """402: the account has no credits left. A billing stop: retrying never helps."""


class CarCutterForbiddenError(CarCutterError):
    """403: the token may not do this."""


class CarCutterNotFoundError(CarCutterError):
    """404: no such image, vehicle, feature or annotation."""


class CarCutterExpiredError(CarCutterError):
    """410: the result is gone; the only way back is to submit the source again."""


class CarCutterBadRequestError(CarCutterError):
    """400 / 413 and other client errors: the input was refused."""


class CarCutterRateLimitedError(CarCutterError):
    """429: too many requests at once."""

    retryable = True


class CarCutterServerError(CarCutterError):
    """5xx: the service failed."""

    retryable = True


class CarCutterTransportError(CarCutterError):
    """No usable answer: timeout, refused or dropped connection. `sent` is False when the request surely
    never reached the service (so repeating it cannot bill twice)."""

    retryable = True

    def __init__(self, message: str, sent: bool) -> None:
        super().__init__(None, None, message)
        self.sent = sent


_BY_STATUS: dict[int, type[CarCutterError]] = {
    401: CarCutterAuthError,
    402: CarCutterCreditsExceededError,
    403: CarCutterForbiddenError,
    404: CarCutterNotFoundError,
    410: CarCutterExpiredError,
    429: CarCutterRateLimitedError,
}

_DEFAULT_MESSAGES = {
    401: "unauthorized: the bearer token in the connection password was refused",
    402: "credits exceeded",
    403: "forbidden",
    404: "not found",
    410: "the result expired",
    429: "rate limited",
}


def error_from_response(status: int, body: str, secret: str | None = None) -> CarCutterError:
    """The typed error for a non-2xx answer; reads `{"code","message"}` nested under "error" or not,
    and falls back to a plain message for HTML or empty bodies. `secret` is blanked out of the message."""
    code, message = _parse_error_body(body)
    default = _DEFAULT_MESSAGES.get(status, f"HTTP {status}")
    if code is None and not _looks_like_json(body):
        message = f"{default} ({message})" if message else default
    message = message or default
    if secret:
        message = message.replace(secret, "***")
    if status in _BY_STATUS:
        error_class = _BY_STATUS[status]
    elif status >= 500:
        error_class = CarCutterServerError
    else:
        error_class = CarCutterBadRequestError
    return error_class(status, code, message[:_MAX_MESSAGE])


def _parse_error_body(body: str) -> tuple[int | None, str]:
    try:
        data = json.loads(body)
    except ValueError:
        return None, _text_of_html(body)
    if not isinstance(data, dict):
        return None, ""
    error = data.get("error")
    if isinstance(error, dict):
        data = error
    elif isinstance(error, str) and "message" not in data:
        return None, error
    code = data.get("code")
    return (code if isinstance(code, int) else None), str(data.get("message") or "")


def _looks_like_json(body: str) -> bool:
    return body.lstrip().startswith(("{", "["))


def _text_of_html(body: str) -> str:
    """A short readable line from an HTML (or plain text) error page."""
    title = re.search(r"<title[^>]*>(.*?)</title>", body, flags=re.IGNORECASE | re.DOTALL)
    text = title.group(1) if title else re.sub(r"<[^>]+>", " ", body)
    return " ".join(text.split())[:_MAX_MESSAGE]
