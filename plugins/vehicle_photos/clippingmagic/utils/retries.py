"""When a failed Clipping Magic request is tried again (docs/clipping-magic-api.md, "Rate limits and back-off").

- 429: linear back-off per thread. After the n-th consecutive 429 a thread waits n x `rate_limit_wait`
  before its next request. The count is the thread's, not the call's: it starts over after a success and
  after the hook gives up (more than `max_rate_limit_waits` in a row), so the next call waits again.
- 5xx, timeouts and dropped connections: bounded exponential back-off, at most `max_attempts` attempts.
- Anything else is raised at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from vehicle_photos.clippingmagic.exceptions import RateLimitedError, ServerError, TransportError

RETRIED_ERRORS = (RateLimitedError, ServerError, TransportError)


@dataclass(frozen=True)
class RetryRules:
    max_attempts: int = 5
    retry_wait_min: float = 1.0
    retry_wait_max: float = 30.0
    rate_limit_wait: float = 5.0
    max_rate_limit_waits: int = 10

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> RetryRules:
        """The rules a connection's extra overrides (same names); anything absent keeps its default."""
        kinds = {"max_attempts": int, "max_rate_limit_waits": int}
        chosen = {name: extra.get(name) for name in cls.__dataclass_fields__}
        return cls(**{name: kinds.get(name, float)(value) for name, value in chosen.items() if value not in (None, "")})

    def failure_wait(self, failures: int) -> float | None:
        """The wait after the `failures`-th 5xx or transport failure of one call; None: give up."""
        if failures >= self.max_attempts:
            return None
        return min(self.retry_wait_max, self.retry_wait_min * 2 ** (failures - 1))


class RateLimitCounter:
    """Consecutive 429 answers, counted per thread."""

    def __init__(self, rules: RetryRules) -> None:
        self.rules = rules
        self._threads = threading.local()

    @property
    def count(self) -> int:
        return getattr(self._threads, "count", 0)

    def wait_after_429(self) -> float | None:
        """Count one more 429 and return the wait before this thread's next request; None (and the count
        starts over) once there have been more than `max_rate_limit_waits` in a row."""
        count = self.count + 1
        if count > self.rules.max_rate_limit_waits:
            self.reset()
            return None
        self._threads.count = count
        return count * self.rules.rate_limit_wait

    def reset(self) -> None:
        self._threads.count = 0
