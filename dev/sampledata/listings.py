"""Listing rows: one per vehicle, plus optional invalid rows for pipeline tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dev.sampledata.photos import NON_EXTERIOR_ANGLES
from dev.sampledata.vehicles import BODY_TYPES, EXTERIOR_ANGLES
from dev.sampledata.vin import check_digit, make_vin

MAKES = (  # make, world manufacturer identifier, models
    ("Volkswagen", "WVW", ("Golf", "Passat", "Tiguan")),
    ("BMW", "WBA", ("320d", "X3", "118i")),
    ("Ford", "1FA", ("Focus", "Mustang", "Kuga")),
    ("Honda", "JHM", ("Civic", "Accord", "CR-V")),
    ("Renault", "VF1", ("Clio", "Megane", "Captur")),
    ("Volvo", "YV1", ("V60", "XC40", "S90")),
    ("Toyota", "JTD", ("Corolla", "Yaris", "RAV4")),
    ("Hyundai", "KMH", ("i30", "Tucson", "Kona")),
)
COLOURS = {
    "white": (236, 236, 234),
    "black": (28, 28, 30),
    "silver": (180, 183, 186),
    "grey": (110, 112, 115),
    "red": (170, 25, 30),
    "blue": (30, 60, 150),
    "dark-blue": (20, 30, 70),
    "green": (30, 100, 60),
    "yellow": (230, 190, 40),
    "orange": (220, 110, 30),
    "brown": (100, 65, 40),
    "beige": (200, 185, 155),
}
FEATURES = (
    ("Heated seats", "Front seats with three heat levels", "seat-heated", "text"),
    ("Panoramic roof", "Tilting and sliding glass roof", "sunroof", "text"),
    ("LED headlights", "Adaptive LED matrix headlights", "headlight", "text"),
    ("Navigation", "Navigation with live traffic", "navigation", "text"),
    ("Parking sensors", "Front and rear parking sensors", "parking", "text"),
    ("Service history", "https://example.com/service-history.pdf", "document", "doc"),
    ("Alloy wheels", "18 inch alloy wheels", "wheel", "text"),
    ("Owner's manual", "https://example.com/manual", "book", "href"),
)
PART_FEATURES = {
    "front-wheel": "Alloy wheels",
    "rear-wheel": "Alloy wheels",
    "left-headlight": "LED headlights",
    "right-headlight": "LED headlights",
    "wheel": "Alloy wheels",
    "infotainment": "Navigation",
}
SOLD_SHARE = 0.15


@dataclass(frozen=True)
class PlannedImage:
    index: int
    angle: str
    background: str
    close_background: bool
    key: str  # photos/<vehicle_id>/<n>_<angle>.jpg


@dataclass(frozen=True)
class PlannedVehicle:
    vehicle_id: str
    make: str
    model: str
    colour: str
    body: str
    listing_status: str
    images: tuple[PlannedImage, ...]
    features: tuple[dict, ...]


def plan_angles(vehicle_index: int, count: int) -> list[str]:
    """Exterior angles rotating per vehicle; the last shot is an interior or a detail when there are 3+."""
    extras = [NON_EXTERIOR_ANGLES[vehicle_index % 2]] if count >= 3 else []
    if count >= 6:
        extras = list(NON_EXTERIOR_ANGLES)
    exterior = [EXTERIOR_ANGLES[(vehicle_index * 3 + i) % len(EXTERIOR_ANGLES)] for i in range(count - len(extras))]
    return exterior + extras


def plan_vehicle(rng: np.random.Generator, vehicle_index: int, images_per_vehicle: int) -> PlannedVehicle:
    make, manufacturer_code, models = MAKES[int(rng.integers(len(MAKES)))]
    vehicle_id = make_vin(rng, manufacturer_code)
    colour = list(COLOURS)[int(rng.integers(len(COLOURS)))]
    images = []
    for index, angle in enumerate(plan_angles(vehicle_index, images_per_vehicle)):
        background = ("studio", "lot", "noise")[(vehicle_index + index) % 3]
        images.append(
            PlannedImage(
                index, angle, background, bool(rng.random() < 0.25), f"photos/{vehicle_id}/{index}_{angle}.jpg"
            )
        )
    chosen = rng.choice(len(FEATURES), size=int(rng.integers(2, 5)), replace=False)
    features = tuple(
        {"title": title, "description": description, "icon": icon, "type": kind}
        for title, description, icon, kind in (FEATURES[i] for i in sorted(chosen))
    )
    return PlannedVehicle(
        vehicle_id=vehicle_id,
        make=make,
        model=str(rng.choice(models)),
        colour=colour,
        body=list(BODY_TYPES)[int(rng.integers(len(BODY_TYPES)))],
        listing_status="sold" if rng.random() < SOLD_SHARE else "active",
        images=tuple(images),
        features=features,
    )


def image_ref(image: PlannedImage, vehicle_index: int, bucket: str, http_base_url: str) -> str:
    """S3 URI, key relative to the listing bucket, or http URL, in turn."""
    style = (vehicle_index + image.index) % 3
    if style == 0:
        return f"s3://{bucket}/{image.key}"
    if style == 1:
        return image.key
    return f"{http_base_url.rstrip('/')}/{image.key}"


def listing_row(vehicle: PlannedVehicle, refs: list[str], hotspots: list[dict]) -> dict:
    images = [
        {"ref": ref, "angle": image.angle, "provider": "clippingmagic" if image.angle in NON_EXTERIOR_ANGLES else None}
        for ref, image in zip(refs, vehicle.images, strict=True)
    ]
    return {
        "vehicle_id": vehicle.vehicle_id,
        "make": vehicle.make,
        "model": vehicle.model,
        "colour": vehicle.colour,
        "listing_status": vehicle.listing_status,
        "images": images,
        "features": list(vehicle.features),
        "hotspots": hotspots,
    }


def hotspots_for(image_index: int, parts: dict[str, tuple[int, int]], titles: set[str], limit: int = 2) -> list[dict]:
    named = sorted(parts.items())
    spots = []
    for location, (x, y) in (named[(image_index + i) % len(named)] for i in range(min(limit, len(named)))):
        feature = PART_FEATURES.get(location)
        spots.append(
            {
                "image": image_index,
                "x": max(0, x),
                "y": max(0, y),
                "location": location,
                "feature": feature if feature in titles else None,
            }
        )
    return spots


def bad_rows(valid_rows: list[dict]) -> list[tuple[str, dict]]:
    """Invalid rows, each with the reason a validator should give: built from copies of valid rows."""
    template = valid_rows[0]
    missing_id = {**template, "vehicle_id": None}
    ftp_image = {
        **template,
        "vehicle_id": _other_vin(template["vehicle_id"], "7"),
        "images": [{"ref": "ftp://dealer.example.com/photos/1.jpg", "angle": "front", "provider": None}],
        "hotspots": [],
    }
    bad_vin = {**template, "vehicle_id": template["vehicle_id"][:8] + "O" + template["vehicle_id"][9:16]}
    duplicate = {**template, "colour": "duplicate-" + str(template["colour"])}
    return [
        ("missing vehicle_id", missing_id),
        ("ftp:// image ref", ftp_image),
        ("bad VIN (16 characters, contains O)", bad_vin),
        ("duplicate vehicle_id", duplicate),
    ]


def _other_vin(vin: str, serial_digit: str) -> str:
    draft = vin[:16] + serial_digit
    return draft[:8] + check_digit(draft) + draft[9:]
