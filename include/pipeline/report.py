"""The HTML run report a person looks at: counts, credits, failures with reasons, rejected rows, and a
before / after thumbnail grid per vehicle. Thumbnails are embedded, so the file works from S3 or a disk."""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from include.pipeline.dealer_report import DealerLine
from include.pipeline.manifest import ManifestRow, RunSummary
from vehicle_photos.image_common.statuses import ResultStatus

TEMPLATES = Path(__file__).parent / "templates"


def thumbnail_name(row: ManifestRow, side: str) -> str:
    return f"{row.provider}/{row.vehicle_id}/{row.name}/{side}"


def shown_vehicles(rows: list[ManifestRow], limit: int) -> list[tuple[str, list[ManifestRow]]]:
    by_vehicle = [(vehicle_id, list(items)) for vehicle_id, items in groupby(rows, key=lambda row: row.vehicle_id)]
    return by_vehicle[:limit]


def render_report(
    ds: str,
    summary: RunSummary,
    rows: list[ManifestRow],
    rejected: list[dict[str, Any]],
    thumbnails: dict[str, str],
    thumbnail_vehicles: int,
    dealers: list[DealerLine] | None = None,
    dealer: str | None = None,
) -> str:
    """The run report; with `dealers`, its table of dealers linking each one's page; with `dealer`, that page
    (the rows and rejected rows given are the dealer's)."""
    vehicles = shown_vehicles(rows, thumbnail_vehicles)
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    return environment.get_template("report.html.j2").render(
        ds=ds,
        summary=summary,
        failures=[row for row in rows if row.error or row.status != ResultStatus.FINAL],
        retakes=[row for row in rows if row.quality == "retake"],
        rejected=rejected,
        vehicles=vehicles,
        hidden_vehicles=len({row.vehicle_id for row in rows}) - len(vehicles),
        thumbnails=thumbnails,
        thumbnail_name=thumbnail_name,
        final=ResultStatus.FINAL,
        dealers=dealers or [],
        dealer=dealer,
        dealer_page=dealer_page,
    )


def dealer_page(dealer: str) -> str:
    """A dealer's page, relative to the run report."""
    return f"dealers/{dealer}.html"
