"""The run manifest: one row per image of the date's listings, pointing at its outputs wherever they were first
produced. Written as Parquet and JSON; it holds nothing that changes between reruns of the same date and no
URL query string."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from include.pipeline.planned_work import PlannedImage
from vehicle_photos.image_common.results import ImageResult
from vehicle_photos.image_common.statuses import ResultStatus


@dataclass(frozen=True)
class ManifestRow:
    vehicle_id: str
    name: str
    source: str
    provider: str
    status: ResultStatus
    quality: str | None
    angle: str | None
    credits_charged: int
    result: str | None
    clipping_path_svg: str | None
    alpha_mask_png: str | None
    error: str | None
    dealer_id: str | None = None  # None: a row without a dealer (the default profile)
    composite: str | None = None  # the dealer's local composite of a Clipping Magic cut-out


def manifest_row(image: PlannedImage, result: ImageResult | None, composite: str | None = None) -> ManifestRow:
    outputs = result.outputs if result else {}
    return ManifestRow(
        vehicle_id=image.vehicle_id,
        name=image.name,
        source=image.shown_source,
        provider=image.provider,
        status=result.status if result else ResultStatus.MISSING,
        quality=result.quality if result else None,
        angle=(result.angle if result else None) or image.angle,
        credits_charged=result.credits_charged if result else 0,
        result=outputs.get("result"),
        clipping_path_svg=outputs.get("clipping_path_svg"),
        alpha_mask_png=outputs.get("alpha_mask_png"),
        error=result.error if result else "no result was reported for this image (see the failed task's log)",
        dealer_id=image.dealer_id,
        composite=composite,
    )


def build_manifest(
    planned: Iterable[PlannedImage], results: Iterable[ImageResult], composites: dict[str, str] | None = None
) -> list[ManifestRow]:
    """Results are matched to planned images by (provider, vehicle, image name); `composites` by
    "<vehicle>/<image name>"."""
    by_key = {result.key: result for result in results}
    composites = composites or {}
    rows = [
        manifest_row(image, by_key.get(image.key), composites.get(f"{image.vehicle_id}/{image.name}"))
        for image in planned
    ]
    return sorted(rows, key=lambda row: (row.vehicle_id, row.name, row.provider))


def manifest_json(rows: list[ManifestRow]) -> bytes:
    return json.dumps([asdict(row) for row in rows], indent=1, sort_keys=True).encode()


# One column per ManifestRow field, typed even when every row of a run leaves it empty
MANIFEST_SCHEMA = pa.schema(
    [(name, pa.int64() if name == "credits_charged" else pa.string()) for name in ManifestRow.__dataclass_fields__]
)


def manifest_parquet(rows: list[ManifestRow]) -> bytes:
    table = pa.Table.from_pylist([asdict(row) for row in rows], schema=MANIFEST_SCHEMA)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class RunSummary:
    vehicles: int
    images: int
    by_provider: dict[str, int]
    by_status: dict[str, int]
    retakes: int
    credits_total: int
    credits_this_run: int
    rejected_rows: int
    sold_vehicles_deleted: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(
    rows: list[ManifestRow], credits_this_run: int, rejected_rows: int, sold_vehicles_deleted: int
) -> RunSummary:
    def count(values: Iterable[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for value in values:
            counts[value] = counts.get(value, 0) + 1
        return dict(sorted(counts.items()))

    return RunSummary(
        vehicles=len({row.vehicle_id for row in rows}),
        images=len(rows),
        by_provider=count(row.provider for row in rows),
        by_status=count(str(row.status) for row in rows),
        retakes=sum(1 for row in rows if row.quality == "retake"),
        credits_total=sum(row.credits_charged for row in rows),
        credits_this_run=credits_this_run,
        rejected_rows=rejected_rows,
        sold_vehicles_deleted=sold_vehicles_deleted,
    )
