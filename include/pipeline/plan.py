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


def annotation_image_id(vehicle_id: str, image_name: str) -> str:
    """The public id under which an image's hotspots are kept on Car-Cutter: stable across runs and dates."""
    return f"{vehicle_id}/{image_name}"


def carcutter_vehicle(listing: VehicleListing) -> dict[str, Any]:
    return {
        "vehicle_id": listing.vehicle_id,
        "vehicle_manufacturer": listing.make,
        "vehicle_model": listing.model,
        "vehicle_color": listing.colour,
    }


def feature_sync_item(listing: VehicleListing) -> dict[str, Any]:
    return {"vehicle_id": listing.vehicle_id, "features": [f.model_dump(exclude_none=True) for f in listing.features]}


def annotation_sync_items(listing: VehicleListing, images: Sequence[PlannedImage]) -> list[dict[str, Any]]:
    """Every image of the vehicle with its desired hotspots; an image without any loses stale ones."""
    return [
        {
            "image_id": annotation_image_id(listing.vehicle_id, image.name),
            "annotations": [
                {"x": h.x, "y": h.y, "location": h.location} for h in listing.hotspots if h.image == image.index
            ],
        }
        for image in images
    ]


def plan_batches(active: Sequence[VehicleListing], settings: PipelineSettings) -> list[dict[str, Any]]:
    """Batches of whole vehicles (a vehicle's images are submitted together), as the mapped tasks' inputs."""
    planned = []
    for group in batches(sorted(active, key=lambda listing: listing.vehicle_id), settings.batch_size):
        per_vehicle = [(listing, plan_images(listing, settings)) for listing in group]
        images = [image for _, vehicle_images in per_vehicle for image in vehicle_images]
        planned.append(
            {
                "vehicles": [carcutter_vehicle(listing) for listing in group],
                "features": [feature_sync_item(listing) for listing in group],
                "annotations": [item for listing, imgs in per_vehicle for item in annotation_sync_items(listing, imgs)],
                "carcutter_images": [i.to_operator_input() for i in images if i.provider == "carcutter"],
                "clippingmagic_images": [i.to_operator_input() for i in images if i.provider == "clippingmagic"],
            }
        )
    return planned


def vehicles_of(batch: dict[str, Any]) -> list[dict[str, Any]]:
    return batch["vehicles"]


def features_of(batch: dict[str, Any]) -> list[dict[str, Any]]:
    return batch["features"]


def annotations_of(batch: dict[str, Any]) -> list[dict[str, Any]]:
    return batch["annotations"]


def carcutter_images_of(batch: dict[str, Any]) -> list[dict[str, Any]]:
    return batch["carcutter_images"]


def clippingmagic_images_of(batch: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"source": image["source"], "vehicle_id": image["vehicle_id"]} for image in batch["clippingmagic_images"]]
