"""From validated listings to work: which provider gets each image, what each vehicle needs on Car-Cutter, and
batches of whole vehicles to fan out over. Pure data: reading and writing S3 is `planning`'s job."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlparse

from include.listings.schema import ListingImage, VehicleListing
from include.pipeline.settings import PipelineSettings
from include.pipeline.vehicle_state import digest_of
from vehicle_photos.image_common.urls import redact_url

PROVIDERS = ("carcutter", "clippingmagic")


@dataclass(frozen=True)
class PlannedImage:
    vehicle_id: str
    index: int
    source: str  # s3://bucket/key or the http(s) URL exactly as listed (its query string stays out of outputs)
    angle: str | None
    provider: str
    dealer_id: str | None = None  # None: the default profile's (a row without a dealer)

    @property
    def name(self) -> str:
        return f"{self.index:02d}-{self.angle or 'image'}"

    @property
    def key(self) -> tuple[str, str, str]:
        """How results are matched to planned images: (provider, vehicle, image name)."""
        return self.provider, self.vehicle_id, self.name

    @property
    def shown_source(self) -> str:
        return redact_url(self.source)

    def operator_item(self, identity: str | None) -> dict[str, Any]:
        item = {"source": self.source, "vehicle_id": self.vehicle_id, "name": self.name}
        return {**item, "identity": identity} if identity else item

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlannedImage:
        return cls(**data)


@dataclass
class VehicleWork:
    """What one vehicle needs in this run; empty lists and None mean "nothing to do"."""

    vehicle_id: str
    profile_key: str = ""  # vehicles of one batch share it: the same request options (profiles.DealerProfile)
    register: dict[str, Any] | None = None
    features: dict[str, Any] | None = None
    hotspots: list[dict[str, Any]] | None = None
    images: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {p: [] for p in PROVIDERS})
    applied: list[dict[str, str]] = field(default_factory=list)  # state digests to record once it succeeded
    composites: list[dict[str, str]] = field(default_factory=list)  # earlier cut-outs still to composite

    @property
    def has_work(self) -> bool:
        return bool(
            self.register or self.features or self.hotspots is not None or any(self.images.values()) or self.composites
        )


def resolve_ref(ref: str, bucket: str) -> str:
    """`photos/x.jpg` is a key in the listing bucket; `s3://` and `http(s)://` refs pass through."""
    return ref if urlparse(ref).scheme else f"s3://{bucket}/{ref.lstrip('/')}"


def choose_provider(image: ListingImage, clippingmagic_angles: Iterable[str]) -> str:
    if image.provider:
        return image.provider
    return "clippingmagic" if (image.angle or "").lower() in set(clippingmagic_angles) else "carcutter"


def plan_images(
    listing: VehicleListing, settings: PipelineSettings, clippingmagic_angles: Iterable[str] | None = None
) -> list[PlannedImage]:
    """`clippingmagic_angles`: the dealer profile's (default: the settings')."""
    angles = tuple(settings.clippingmagic_angles if clippingmagic_angles is None else clippingmagic_angles)
    return [
        PlannedImage(
            vehicle_id=listing.vehicle_id,
            index=index,
            source=resolve_ref(image.ref, settings.bucket),
            angle=image.angle,
            provider=choose_provider(image, angles),
            dealer_id=listing.dealer_id,
        )
        for index, image in enumerate(listing.images)
    ]


def select_vehicles(listings: Sequence[VehicleListing], vehicle_ids: Sequence[str]) -> list[VehicleListing]:
    if not vehicle_ids:
        return list(listings)
    wanted = set(vehicle_ids)
    return [listing for listing in listings if listing.vehicle_id in wanted]


def annotation_image_id(vehicle_id: str, image_name: str) -> str:
    """The public id under which an image's hotspots are kept on Car-Cutter: stable across runs and dates."""
    return f"{vehicle_id}/{image_name}"


def carcutter_vehicle(listing: VehicleListing, vehicle_fields: dict[str, str] | None = None) -> dict[str, Any]:
    """`vehicle_fields`: the dealer profile's (vehicle_location, suggested_guideline_id), where it sets them."""
    return {
        "vehicle_id": listing.vehicle_id,
        "vehicle_manufacturer": listing.make,
        "vehicle_model": listing.model,
        "vehicle_color": listing.colour,
        **(vehicle_fields or {}),
    }


def feature_item(listing: VehicleListing) -> dict[str, Any]:
    return {"vehicle_id": listing.vehicle_id, "features": [f.model_dump(exclude_none=True) for f in listing.features]}


def hotspot_items(listing: VehicleListing, images: Sequence[PlannedImage]) -> list[dict[str, Any]]:
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


def gone_item(listing: VehicleListing, settings: PipelineSettings) -> dict[str, Any]:
    """A sold or removed vehicle to delete, with the images whose hotspots go too."""
    image_ids = [annotation_image_id(listing.vehicle_id, image.name) for image in plan_images(listing, settings)]
    return {"vehicle_id": listing.vehicle_id, "image_ids": image_ids}


def vehicle_work(
    listing: VehicleListing,
    images: Sequence[PlannedImage],
    applied: dict[tuple[str, str], str],
    vehicle_fields: dict[str, str] | None = None,
    profile_key: str = "",
) -> VehicleWork:
    """The Car-Cutter aspects of an active vehicle whose desired state differs from what was applied last."""
    work = VehicleWork(listing.vehicle_id, profile_key)
    wanted = {
        "register": carcutter_vehicle(listing, vehicle_fields),
        "features": feature_item(listing),
        "hotspots": hotspot_items(listing, images),
    }
    for aspect, value in wanted.items():
        digest = digest_of(value)
        if applied.get((aspect, listing.vehicle_id)) != digest:
            setattr(work, aspect, value)
            work.applied.append({"aspect": aspect, "vehicle_id": listing.vehicle_id, "digest": digest})
    return work


def batches(items: Sequence[Any], settings: PipelineSettings) -> list[list[Any]]:
    """Groups of `batch_size`, made larger when needed so there are at most `max_batches`."""
    size = max(settings.batch_size, -(-len(items) // settings.max_batches)) if items else settings.batch_size
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def profile_batches(works: Sequence[VehicleWork], settings: PipelineSettings) -> list[list[VehicleWork]]:
    """Batches that never mix request options: one profile key each (Car-Cutter's options are per request).
    Batches are sized over all the works, so many small dealers add at most one batch each."""
    size = max(settings.batch_size, -(-len(works) // settings.max_batches)) if works else settings.batch_size
    by_profile: dict[str, list[VehicleWork]] = {}
    for work in works:
        by_profile.setdefault(work.profile_key, []).append(work)
    return [group[start : start + size] for group in by_profile.values() for start in range(0, len(group), size)]
