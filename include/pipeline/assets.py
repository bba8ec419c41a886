"""What other DAGs consume: the date's manifest and the archived listing files, as Airflow assets.

The DAG files name stable asset aliases (`vehicle_photos_manifest`, `vehicle_photos_archive`): the bucket and
prefixes are deployment settings (Variables) that DAG files must not read when parsed, so `publish_run` resolves
each alias at run time to the asset of the deployment's own location, e.g. `s3://<bucket>/<manifests_prefix>`,
and attaches what a consumer needs to the event (`manifest_event_extra`). Schedule a DAG on the alias (or, once
the location is known, on the asset itself) and read `triggering_asset_events`.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, AssetAlias

from include.pipeline.settings import PipelineSettings

MANIFEST_ALIAS = AssetAlias("vehicle_photos_manifest")
ARCHIVE_ALIAS = AssetAlias("vehicle_photos_archive")


def manifest_asset(settings: PipelineSettings) -> Asset:
    """All dates' manifests of the deployment; each event is one date (its extra says which)."""
    return Asset(uri=f"s3://{settings.bucket}/{settings.manifests_prefix}")


def archive_asset(settings: PipelineSettings) -> Asset:
    return Asset(uri=f"s3://{settings.bucket}/{settings.archive_prefix}")


def manifest_event_extra(settings: PipelineSettings, summary: dict[str, Any], outputs: dict[str, Any]) -> dict:
    """The event's extra: where the date's manifest is, and its counts and credits (small: no image list)."""
    return {
        "date": settings.listing_date,
        "bucket": settings.bucket,
        "manifest_key": _key(outputs["manifest_json"], settings.bucket),
        "manifest_parquet_key": _key(outputs["manifest_parquet"], settings.bucket),
        "summary_key": _key(outputs["summary"], settings.bucket),
        "vehicles": summary["vehicles"],
        "images": summary["images"],
        "images_by_status": summary["by_status"],
        "images_by_provider": summary["by_provider"],
        "rejected_rows": summary["rejected_rows"],
        "credits_this_run": summary["credits_this_run"],
        "credits_total": summary["credits_total"],
    }


def add_published_events(outlet_events: Any, settings: PipelineSettings, published: dict[str, Any]) -> None:
    """`publish_run`'s events: the date's manifest (with `manifest_event_extra`) and its archived files."""
    extra = manifest_event_extra(settings, published["summary"], published["outputs"])
    outlet_events[MANIFEST_ALIAS].add(manifest_asset(settings), extra=extra)
    archived = {"date": settings.listing_date, "bucket": settings.bucket, "prefix": settings.archived_prefix}
    outlet_events[ARCHIVE_ALIAS].add(archive_asset(settings), extra=archived)


def _key(uri: str, bucket: str) -> str:
    return uri.removeprefix(f"s3://{bucket}/")
