"""When a failed Car-Cutter call is tried again: bounded exponential backoff, never after a billing stop.

Idempotent calls retry every retryable failure. Calls that create something (a feature, a sync cut)
do not retry a transport failure after the request was sent: the service may have acted on it.
"""

from __future__ import annotations

import logging
from typing import Any

from tenacity import RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential

from carcutter.exceptions import CarCutterError, CarCutterTransportError
from carcutter.hooks.settings import CarCutterSettings


def should_retry(error: BaseException, idempotent: bool) -> bool:
    if not isinstance(error, CarCutterError) or not error.retryable:
        return False
    return idempotent or not (isinstance(error, CarCutterTransportError) and error.sent)


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
