"""Car-Cutter's errors: the shared hierarchy of `image_common.api_errors`, and how Car-Cutter's answers map
onto it. A 402 ("Credits exceeded") is a `CreditsError`: a billing stop that no retry helps.

Car-Cutter's error bodies are `{"code", "message"}`, nested under `"error"` or not, and some 401s are HTML
pages (docs/car-cutter-api.md); all three are read.
"""

from __future__ import annotations

import json
import re

from vehicle_photos.image_common.api_errors import *  # noqa: F403 - the shared hierarchy, re-exported
from vehicle_photos.image_common.api_errors import ApiError, ConfigError, error_class_for_status

API = "Car-Cutter"

_DEFAULT_MESSAGES = {
    401: "unauthorized: the bearer token in the connection password was refused",
    402: "credits exceeded",
    403: "forbidden",
    404: "not found",
    410: "the result expired",
    429: "rate limited",
}


def error_from_response(status: int, body: str, secret: str | None = None) -> ApiError:
    """The typed error for a non-2xx answer; `secret` is blanked out of the message."""
    code, message = _parse_error_body(body)
    default = _DEFAULT_MESSAGES.get(status, f"HTTP {status}")
    if code is None and not body.lstrip().startswith(("{", "[")):
        message = f"{default} ({message})" if message else default
    message = message or default
    if secret:
        message = message.replace(secret, "***")
    return error_class_for_status(status)(API, message, status=status, code=code)


def config_error(message: str) -> ConfigError:
    return ConfigError(API, message)


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


def _text_of_html(body: str) -> str:
    """A short readable line from an HTML (or plain text) error page."""
    title = re.search(r"<title[^>]*>(.*?)</title>", body, flags=re.IGNORECASE | re.DOTALL)
    text = title.group(1) if title else re.sub(r"<[^>]+>", " ", body)
    return " ".join(text.split())[:300]
