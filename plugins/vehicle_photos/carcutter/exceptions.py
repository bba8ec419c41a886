"""Car-Cutter's errors: the shared hierarchy of `image_common.api_errors`, and how Car-Cutter's answers map
onto it. A 402 ("Credits exceeded") is a `CreditsError`: a billing stop that no retry helps.

Car-Cutter's error bodies are `{"code", "message"}`, nested under `"error"` or not, and some 401s are HTML
pages (docs/car-cutter-api.md); any other body (a proxy's page, text, nothing) still makes the error of its
status, with a short message that never carries the token or a signed URL.
"""

from __future__ import annotations

import json

from vehicle_photos.image_common.api_errors import *  # noqa: F403 - the shared hierarchy, re-exported
from vehicle_photos.image_common.api_errors import ApiError, ConfigError, error_class_for_status, error_text

API = "Car-Cutter"

_DEFAULT_MESSAGES = {
    401: "unauthorized: the bearer token in the connection password was refused",
    402: "credits exceeded",
    403: "forbidden",
    404: "not found",
    410: "the result expired",
    414: "the request URL is too long",
    429: "rate limited",
}


def error_from_response(status: int, body: str, secret: str | None = None) -> ApiError:
    """The typed error for a non-2xx answer, whatever its body; `secret` is blanked out of the message."""
    code, message, is_json = _parse_error_body(body)
    default = _DEFAULT_MESSAGES.get(status, f"HTTP {status}")
    message = error_text(message, [secret])
    if not is_json:
        message = f"{default} ({message})" if message else default
    return error_class_for_status(status)(API, message or default, status=status, code=code)


def config_error(message: str) -> ConfigError:
    return ConfigError(API, message)


def _parse_error_body(body: str) -> tuple[int | None, str, bool]:
    """(code, message, whether the body was JSON); a body that is not JSON is its own message."""
    try:
        data = json.loads(body)
    except ValueError:
        return None, body, False
    if not isinstance(data, dict):
        return None, "", True
    error = data.get("error")
    if isinstance(error, dict):
        data = error
    elif isinstance(error, str) and "message" not in data:
        return None, error, True
    code = data.get("code")
    return (code if isinstance(code, int) else None), str(data.get("message") or ""), True
