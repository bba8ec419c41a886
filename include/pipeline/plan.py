"""From validated listings to work: which provider gets each image, and batches of vehicles to fan out over."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from include.listings.schema import ListingImage, VehicleListing
from include.pipeline.settings import PipelineSettings


@dataclass(frozen=True)
class PlannedImage:
    vehicle_id: str
    index: int
    source: str  # s3://bucket/key or http(s) URL
    angle: str | None
    provider: str

    @property
    def name(self) -> str:
        return f"{self.index:02d}-{self.angle or 'image'}"

    def to_operator_input(self) -> dict[str, Any]:
        return {"source": self.source, "vehicle_id": self.vehicle_id, "name": self.name, "angle": self.angle}


def resolve_ref(ref: str, bucket: str) -> str:
    """`photos/x.jpg` is a key in the listing bucket; `s3://` and `http(s)://` refs pass through."""
    return ref if urlparse(ref).scheme else f"s3://{bucket}/{ref.lstrip('/')}"


def choose_provider(image: ListingImage, clippingmagic_angles: Iterable[str]) -> str:
    if image.provider:
        return image.provider
    return "clippingmagic" if (image.angle or "").lower() in set(clippingmagic_angles) else "carcutter"


def plan_images(listing: VehicleListing, settings: PipelineSettings) -> list[PlannedImage]:
    return [
        PlannedImage(
            vehicle_id=listing.vehicle_id,
            index=index,
            source=resolve_ref(image.ref, settings.bucket),
            angle=image.angle,
            provider=choose_provider(image, settings.clippingmagic_angles),
        )
        for index, image in enumerate(listing.images)
    ]


def select_vehicles(listings: Sequence[VehicleListing], vehicle_ids: Sequence[str]) -> list[VehicleListing]:
    if not vehicle_ids:
        return list(listings)
    wanted = set(vehicle_ids)
    return [listing for listing in listings if listing.vehicle_id in wanted]


def batches(items: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


@dataclass(frozen=True)
class WorkBatch:
    """One mapped task's share: whole vehicles, so a vehicle's images are submitted together."""

    vehicles: list[dict[str, Any]]
    carcutter_images: list[dict[str, Any]]
    clippingmagic_images: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "vehicles": self.vehicles,
            "carcutter_images": self.carcutter_images,
            "clippingmagic_images": self.clippingmagic_images,
        }


def plan_batches(active: Sequence[VehicleListing], settings: PipelineSettings) -> list[WorkBatch]:
    planned = []
    for group in batches(sorted(active, key=lambda listing: listing.vehicle_id), settings.batch_size):
        images = [image for listing in group for image in plan_images(listing, settings)]
        planned.append(
            WorkBatch(
                vehicles=[listing.model_dump(mode="json") for listing in group],
                carcutter_images=[i.to_operator_input() for i in images if i.provider == "carcutter"],
                clippingmagic_images=[i.to_operator_input() for i in images if i.provider == "clippingmagic"],
            )
        )
    return planned
