"""When a failed Car-Cutter call is tried again: bounded exponential backoff, never after a billing stop.

Read-only calls retry every retryable failure. Calls that create or bill something (a feature, an
annotation, a synchronous cut) are never repeated once the request may have reached the service: only a
request that surely never left (connection refused, connect timeout) is tried again. The asynchronous
submission has its own rule (`CarCutterHook.submit_images`): after a failure that may have reached the
service, ask the status endpoint for a registration grace period before repeating any of it.
"""

from __future__ import annotations

import logging
from typing import Any

from tenacity import RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential

from vehicle_photos.carcutter.exceptions import ApiError, RateLimitedError, TransportError
from vehicle_photos.carcutter.utils.connection import CarCutterSettings


def should_retry(error: BaseException, idempotent: bool) -> bool:
    if not isinstance(error, ApiError) or not error.retryable:
        return False
    return idempotent or (isinstance(error, TransportError) and not error.sent)


def may_have_arrived(error: BaseException) -> bool:
    """Whether a failed request may still have been received (and billed): anything but a connection that
    was never made or a 429, which the service answers before doing the work."""
    if isinstance(error, TransportError):
        return error.sent
    return not isinstance(error, RateLimitedError)


def retry_arguments(settings: CarCutterSettings, idempotent: bool, log: logging.Logger) -> dict[str, Any]:
    """Keyword arguments for tenacity's `Retrying` / `AsyncRetrying`."""

    def log_retry(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning("Car-Cutter call failed (%s); attempt %d, retrying", error, state.attempt_number)

    return {
        "stop": stop_after_attempt(settings.max_retries + 1),
        "wait": wait_exponential(multiplier=settings.retry_wait_min, min=settings.retry_wait_min,
                                 max=settings.retry_wait_max),
        "retry": retry_if_exception(lambda error: should_retry(error, idempotent)),
        "before_sleep": log_retry,
        "reraise": True,
    }  # fmt: skip
