"""The arguments the vehicle_listings DAG gives its image operators, from the run's settings (the
`wait_for_listings` task's XComs, so each value is a reference that Airflow resolves when the task runs)."""

from __future__ import annotations

from typing import Any

SOURCE_LIMITS = ("allowed_buckets", "allowed_networks", "max_source_bytes", "max_pixels", "source_deadline_seconds")


def storage_arguments(settings: Any) -> dict[str, Any]:
    """Where the outputs and the image records go."""
    return {
        "dest_bucket": settings["bucket"],
        "dest_prefix": settings["processed_prefix"],
        "records_prefix": settings["records_prefix"],
    }


def source_limits(settings: Any) -> dict[str, Any]:
    """What an image source may be: where from, how large, how slow; and which of its URL's query parameters
    do not tell one picture from another (signatures)."""
    return {
        **{name: settings[name] for name in SOURCE_LIMITS},
        "volatile_query_params": settings["volatile_query_params"],
    }


def claim_arguments(settings: Any) -> dict[str, Any]:
    """How long an image's claim holds, and how long a call that may have reached the service is asked for."""
    return {
        "claim_lease_seconds": settings["claim_lease_seconds"],
        "registration_grace_seconds": settings["registration_grace_seconds"],
    }
