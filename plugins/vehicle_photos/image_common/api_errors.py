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
| `TransportError` | no usable answer (timeout, refused or dropped connection) | yes |
| `ConfigError` | the connection or the call is set up wrongly; no request was made | no |

`TransportError.sent` is False when the request surely never reached the service (repeating it cannot bill).
Each API package maps its service's answers onto these in its own `exceptions.py`; every error names its API.
"""

from __future__ import annotations

from typing import ClassVar

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

MAX_MESSAGE_CHARS = 300
# The hierarchy each API package re-exports from its own `exceptions` module.
__all__ = [
    "ApiError", "AuthError", "BadRequestError", "ConfigError", "CreditsError", "ExpiredError", "NotFoundError",
    "RateLimitedError", "ServerError", "TransportError",
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
    429: RateLimitedError,
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
