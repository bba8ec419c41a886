"""Counting API calls through Airflow's Stats: `vehicle_photos.api_calls.<api>` for every answered request and
`vehicle_photos.api_rate_limited.<api>` for each 429 (also tagged `api`, `status`)."""

from __future__ import annotations

from airflow.sdk.observability import stats


def count_api_call(api: str, status: int) -> None:
    """One request to `api` ("carcutter", "clippingmagic") answered with HTTP `status`."""
    tags = {"api": api, "status": str(status)}
    stats.incr(f"vehicle_photos.api_calls.{api}", tags=tags)
    if status == 429:
        stats.incr(f"vehicle_photos.api_rate_limited.{api}", tags=tags)
