"""Task defaults every DAG of the project shares: one owner, a timeout, and retries that back off
exponentially (a failing service gets time to recover; a crashed worker's task comes back soon)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

OWNER = "vehicle-photos"


def task_defaults(retries: int, first_retry_delay: timedelta, execution_timeout: timedelta) -> dict[str, Any]:
    return {
        "owner": OWNER,
        "retries": retries,
        "retry_delay": first_retry_delay,
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=15),
        "execution_timeout": execution_timeout,
    }
