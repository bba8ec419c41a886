"""The listing schema: one row per vehicle.

| column           | type                  | rule                                                                 |
|------------------|-----------------------|----------------------------------------------------------------------|
| `vehicle_id`     | string                | a VIN: 17 characters, digits and capitals except I, O and Q          |
| `make`           | string                | required, non-empty                                                  |
| `model`          | string                | required, non-empty                                                  |
| `colour`         | string                | optional                                                             |
| `listing_status` | string                | `active` (default), `sold` or `removed`                              |
| `dealer_id`      | string                | optional: letters, digits, `_ . -`, at most 64; a file under         |
|                  |                       | `dealer=<id>/` gives it (the folder wins, see `dealer_of_file`)      |
| `images`         | list of image objects | at least one for an active vehicle                                   |
| `features`       | list of feature objects | optional                                                           |
| `hotspots`       | list of hotspot objects | optional                                                           |

In CSV, `images`, `features` and `hotspots` are JSON text; in JSON Lines and Parquet they are native lists.
Keys and columns the schema does not name (top level, or inside image / feature / hotspot objects) are
ignored; `unknown_keys` names them so the loader can warn once per file.

Image object: `ref` (required: `s3://bucket/key`, a key relative to the listing bucket such as
`photos/x.jpg`, or an `http(s)://` URL; any other scheme is rejected and never fetched), `angle` (optional,
e.g. `side-left`, `interior`), `provider` (optional: `carcutter` or `clippingmagic`; when absent, the
pipeline routes by angle).

Feature object: `title`, `icon`, `type` (required), `description` (optional).
Hotspot object: `image` (index into `images`, 0-based), `x`, `y` (non-negative pixel integers), `location`
(optional car part), `feature` (optional title of the feature it points at).
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

VIN_PATTERN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
DEALER_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_DEALER_FOLDER = re.compile(r"(?:^|/)dealer=([^/]+)/")
ALLOWED_SCHEMES = {"s3", "http", "https"}
PROVIDERS = ("carcutter", "clippingmagic")


class _ListingModel(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)


class ListingImage(_ListingModel):
    ref: str = Field(min_length=1)
    angle: str | None = None
    provider: Literal["carcutter", "clippingmagic"] | None = None

    @field_validator("ref")
    @classmethod
    def _known_scheme(cls, ref: str) -> str:
        if ":" not in ref:  # a key in the listing bucket; no scheme to check (and urlsplit is slow)
            return ref
        parts = urlsplit(ref)
        if parts.scheme and parts.scheme not in ALLOWED_SCHEMES:
            raise ValueError(f"image ref scheme {parts.scheme!r} is not allowed (only s3, http, https): {ref}")
        if parts.scheme in {"http", "https"} and not parts.netloc:
            raise ValueError(f"image URL has no host: {ref}")
        if parts.scheme == "s3" and not parts.netloc:
            raise ValueError(f"s3 image ref has no bucket: {ref}")
        return ref


class Feature(_ListingModel):
    title: str = Field(min_length=1)
    icon: str = Field(min_length=1)
    type: str = Field(min_length=1)
    description: str | None = None


class Hotspot(_ListingModel):
    image: int = Field(ge=0)
    x: int = Field(ge=0)
    y: int = Field(ge=0)
    location: str | None = None
    feature: str | None = None


class VehicleListing(_ListingModel):
    vehicle_id: str
    make: str = Field(min_length=1)
    model: str = Field(min_length=1)
    colour: str | None = None
    listing_status: Literal["active", "sold", "removed"] = "active"
    dealer_id: str | None = None
    images: tuple[ListingImage, ...] = ()
    features: tuple[Feature, ...] = ()
    hotspots: tuple[Hotspot, ...] = ()

    @field_validator("vehicle_id")
    @classmethod
    def _vin(cls, vehicle_id: str) -> str:
        if not VIN_PATTERN.match(vehicle_id):
            raise ValueError(f"not a VIN (17 characters, digits and capitals except I, O, Q): {vehicle_id!r}")
        return vehicle_id

    @field_validator("dealer_id")
    @classmethod
    def _dealer_id(cls, dealer_id: str | None) -> str | None:
        if dealer_id is not None and not DEALER_ID_PATTERN.match(dealer_id):
            raise ValueError(f"not a dealer id (letters, digits, '_', '.', '-'; at most 64): {dealer_id!r}")
        return dealer_id

    @model_validator(mode="after")
    def _consistent(self) -> VehicleListing:
        if self.listing_status == "active" and not self.images:
            raise ValueError("an active vehicle needs at least one image")
        for hotspot in self.hotspots:
            if hotspot.image >= len(self.images):
                raise ValueError(f"hotspot points at image {hotspot.image} but the vehicle has {len(self.images)}")
        return self


NESTED_FIELDS = ("images", "features", "hotspots")
TOP_LEVEL_FIELDS = frozenset(VehicleListing.model_fields)
_NESTED_MODEL_FIELDS = {
    "images": frozenset(ListingImage.model_fields),
    "features": frozenset(Feature.model_fields),
    "hotspots": frozenset(Hotspot.model_fields),
}


def unknown_keys(values: dict[str, Any]) -> set[str]:
    """Keys of a raw row the schema does not name: `dealer_ref` at the top level, `images[].watermark`
    inside the objects of a list field."""
    unknown = values.keys() - TOP_LEVEL_FIELDS
    for list_field, known in _NESTED_MODEL_FIELDS.items():
        items = values.get(list_field)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict) and not item.keys() <= known:
                    unknown.update(f"{list_field}[].{key}" for key in item.keys() - known)
    return unknown


def dealer_of_file(name: str) -> str | None:
    """The dealer a listing file belongs to by its place, `listings/dt=<date>/dealer=<id>/...`; None elsewhere.

    The folder wins over a row's `dealer_id` column: a deployment can let each dealer write under its own folder
    only (an IAM prefix), while a column is whatever the file says. A row whose column names another dealer
    is rejected, not moved."""
    match = _DEALER_FOLDER.search(name)
    return match.group(1) if match else None
