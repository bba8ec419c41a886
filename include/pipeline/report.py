"""The HTML run report a person looks at: counts, credits, failures with reasons, rejected rows, and a
before / after thumbnail grid per vehicle. Thumbnails are embedded, so the file works from S3 or a disk."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby
from pathlib import Path
from typing import Any

import requests
from jinja2 import Environment, FileSystemLoader, select_autoescape
from PIL import Image

from include.pipeline.manifest import ManifestRow, RunSummary

TEMPLATES = Path(__file__).parent / "templates"
THUMBNAIL_SIZE = (220, 165)

ReadBytes = Callable[[str], bytes]  # s3:// URI -> content


def thumbnail_data_uri(content: bytes) -> str:
    with Image.open(io.BytesIO(content)) as image:
        image.thumbnail(THUMBNAIL_SIZE)
        has_alpha = image.mode in {"RGBA", "LA", "P"}
        converted = image.convert("RGBA" if has_alpha else "RGB")
        buffer = io.BytesIO()
        converted.save(buffer, format="PNG" if has_alpha else "JPEG", quality=80)
    mime = "image/png" if has_alpha else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode()}"


def _read_url(url: str) -> bytes:
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    return response.content


def _thumbnail_or_none(read: ReadBytes, uri: str | None) -> str | None:
    """An embedded thumbnail, so the report stays whole when copied or when a source URL goes away."""
    if not uri:
        return None
    try:
        return thumbnail_data_uri(read(uri) if uri.startswith("s3://") else _read_url(uri))
    except Exception:  # a missing or unreadable image leaves an empty cell, never a failed report
        return None


def render_report(
    ds: str,
    summary: RunSummary,
    rows: list[ManifestRow],
    rejected: list[dict[str, Any]],
    read: ReadBytes,
    thumbnail_vehicles: int = 50,
) -> str:
    by_vehicle = [(vehicle_id, list(items)) for vehicle_id, items in groupby(rows, key=lambda row: row.vehicle_id)]
    shown = by_vehicle[:thumbnail_vehicles]
    wanted = [uri for _, items in shown for row in items for uri in (row.source, row.result)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        thumbnails = dict(zip(wanted, pool.map(lambda uri: _thumbnail_or_none(read, uri), wanted), strict=True))
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    return environment.get_template("report.html.j2").render(
        ds=ds,
        summary=summary,
        failures=[row for row in rows if row.error or row.status not in {"final"}],
        retakes=[row for row in rows if row.quality == "retake"],
        rejected=rejected,
        vehicles=shown,
        hidden_vehicles=len(by_vehicle) - len(shown),
        thumbnails=thumbnails,
    )
