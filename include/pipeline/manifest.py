"""The run manifest: one row per image of the date's listing, pointing at its outputs wherever they were
first produced. Written as Parquet and JSON; holds nothing that changes between reruns of the same date."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

OUTPUT_NAMES = ("result", "clipping_path_svg", "alpha_mask_png")


@dataclass(frozen=True)
class ManifestRow:
    vehicle_id: str
    name: str
    source: str
    provider: str
    status: str
    quality: str | None
    angle: str | None
    credits_charged: int
    result: str | None
    clipping_path_svg: str | None
    alpha_mask_png: str | None
    error: str | None


def manifest_row(provider: str, image: dict[str, Any], result: dict[str, Any] | None) -> ManifestRow:
    """`image` is the planned operator input; `result` is what the provider's operator returned for it."""
    result = result or {}
    outputs = result.get("outputs") or {}
    angle = result.get("angle")
    if isinstance(angle, list):
        angle = "/".join(angle)
    return ManifestRow(
        vehicle_id=image["vehicle_id"],
        name=image["name"],
        source=image["source"],
        provider=provider,
        status=result.get("status") or ("missing" if not result else "unknown"),
        quality=result.get("quality"),
        angle=angle or image.get("angle"),
        credits_charged=int(result.get("credits_total") or 0),
        result=outputs.get("result"),
        clipping_path_svg=outputs.get("clipping_path_svg"),
        alpha_mask_png=outputs.get("alpha_mask_png"),
        error=result.get("error"),
    )


def build_manifest(
    planned: Iterable[tuple[str, dict[str, Any]]], results_by_source: dict[tuple[str, str], dict[str, Any]]
) -> list[ManifestRow]:
    """`planned` is (provider, image) pairs; results are keyed by (provider, source)."""
    def result_for(provider: str, source: str) -> dict[str, Any] | None:
        # operators strip query strings (possible signatures) from the sources they report
        return results_by_source.get((provider, source)) or results_by_source.get((provider, source.split("?")[0]))

    rows = [manifest_row(provider, image, result_for(provider, image["source"])) for provider, image in planned]
    return sorted(rows, key=lambda row: (row.vehicle_id, row.name, row.provider))


def manifest_json(rows: list[ManifestRow]) -> bytes:
    return json.dumps([asdict(row) for row in rows], indent=1, sort_keys=True).encode()


def manifest_parquet(rows: list[ManifestRow]) -> bytes:
    columns = list(ManifestRow.__dataclass_fields__)
    frame = pd.DataFrame([asdict(row) for row in rows], columns=columns)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
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
        by_status=count(row.status for row in rows),
        retakes=sum(1 for row in rows if row.quality == "retake"),
        credits_total=sum(row.credits_charged for row in rows),
        credits_this_run=credits_this_run,
        rejected_rows=rejected_rows,
        sold_vehicles_deleted=sold_vehicles_deleted,
    )
