"""What a dealer's processing profile may say, validated with pydantic.

A profile decides, per dealer, what each API is asked for and what is done locally afterwards:

```yaml
default:                      # rows without a dealer, and the base every dealer's overrides apply to
  clippingmagic_angles: [interior, detail]
  carcutter: {cut_type: complete}
dealers:
  northside-motors:
    carcutter: {scene_id: studio-white, overlay: config/northside/logo.png}
    max_credits_per_run: 400
```

Images (`overlay`, `license_plate`, `composite.background_image`) are references to the listing bucket (a key
or `s3://bucket/key`) under the same bucket rules and byte and pixel caps as photos; overlay and plate must be
PNG with an alpha channel, as Car-Cutter requires.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vehicle_photos.carcutter.hooks.carcutter import CUT_TYPES, PROCESSING_SPEEDS, RETOUCHING_ACCURACIES

CLIPPINGMAGIC_OUTPUTS = ("result", "clipping_path_svg", "alpha_mask_png")
COMPOSITE_FORMATS = ("jpeg", "png", "webp")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_ASPECT = re.compile(r"^(\d{1,3}):(\d{1,3})$")

Identifier = Annotated[str, Field(min_length=1, max_length=128)]
ImageRef = Annotated[str, Field(min_length=1, max_length=1024)]


class _ProfileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CarCutterOptions(_ProfileModel):
    """Car-Cutter's per-request fields (docs/car-cutter-api.md, "Submit images") and the vehicle's own."""

    cut_type: Literal[CUT_TYPES] = "complete"  # type: ignore[valid-type]
    guideline_id: Identifier | None = None
    location_id: Identifier | None = None
    scene_id: Identifier | None = None
    overlay: ImageRef | None = None
    license_plate: ImageRef | None = None
    retouching_accuracy: Literal[RETOUCHING_ACCURACIES] | None = None  # type: ignore[valid-type]
    processing_speed: Literal[PROCESSING_SPEEDS] | None = None  # type: ignore[valid-type]
    custom_json: dict[str, Any] | None = None
    vehicle_location: Identifier | None = None
    suggested_guideline_id: Identifier | None = None


class Composite(_ProfileModel):
    """A local composite of Clipping Magic's cut-out (no credit): on a colour or an image, at a size or aspect."""

    background_colour: str | None = None
    background_image: ImageRef | None = None
    aspect: str | None = None  # "4:3": the canvas fits the cut-out plus padding at this ratio
    size: tuple[Annotated[int, Field(ge=16, le=8192)], Annotated[int, Field(ge=16, le=8192)]] | None = None
    padding: float = Field(default=0.05, ge=0.0, le=0.4)  # of the canvas's shorter side, on every edge
    format: Literal[COMPOSITE_FORMATS] = "jpeg"  # type: ignore[valid-type]
    quality: int = Field(default=90, ge=1, le=100)

    @field_validator("background_colour")
    @classmethod
    def _colour(cls, colour: str | None) -> str | None:
        if colour is not None and not _COLOUR.match(colour):
            raise ValueError(f"a colour is #RRGGBB, got {colour!r}")
        return colour

    @field_validator("aspect")
    @classmethod
    def _aspect(cls, aspect: str | None) -> str | None:
        match = _ASPECT.match(aspect or "1:1")
        if not match or 0 in (int(match.group(1)), int(match.group(2))):
            raise ValueError(f"an aspect is W:H with whole numbers above 0, got {aspect!r}")
        return aspect

    @model_validator(mode="after")
    def _one_background(self) -> Composite:
        if self.background_colour and self.background_image:
            raise ValueError("give background_colour or background_image, not both")
        if self.aspect and self.size:
            raise ValueError("give aspect or size, not both")
        if self.format == "jpeg" and not (self.background_colour or self.background_image):
            raise ValueError("a JPEG composite has no transparency: give background_colour or background_image")
        return self


class ClippingMagicOptions(_ProfileModel):
    outputs: tuple[Literal[CLIPPINGMAGIC_OUTPUTS], ...] = CLIPPINGMAGIC_OUTPUTS  # type: ignore[valid-type]
    composite: Composite | None = None

    @field_validator("outputs")
    @classmethod
    def _result_kept(cls, outputs: tuple[str, ...]) -> tuple[str, ...]:
        if "result" not in outputs:
            raise ValueError("outputs must include 'result'")
        return tuple(dict.fromkeys(outputs))


class Profile(_ProfileModel):
    """One dealer's profile (the default's values where the dealer's overrides say nothing)."""

    clippingmagic_angles: tuple[Identifier, ...] = ("interior", "detail")
    carcutter: CarCutterOptions = CarCutterOptions()
    clippingmagic: ClippingMagicOptions = ClippingMagicOptions()
    max_credits_per_run: int | None = Field(default=None, ge=0)  # None: the deployment's default
    confirm_above_credits: int | None = Field(default=None, ge=0)  # None: the deployment's default

    @field_validator("clippingmagic_angles")
    @classmethod
    def _lower(cls, angles: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(angle.lower() for angle in angles)

    def image_refs(self) -> dict[str, str]:
        """The images the profile names: {field path: reference}."""
        refs = {"carcutter.overlay": self.carcutter.overlay, "carcutter.license_plate": self.carcutter.license_plate}
        composite = self.clippingmagic.composite
        refs["clippingmagic.composite.background_image"] = composite.background_image if composite else None
        return {path: ref for path, ref in refs.items() if ref}


class ProfilesFile(BaseModel):
    """The file's outline; each dealer's profile is validated on its own (`profiles.load`), so one bad dealer
    costs only that dealer's rows."""

    model_config = ConfigDict(extra="forbid")

    default: dict[str, Any] = Field(default_factory=dict)
    dealers: dict[Identifier, dict[str, Any] | None] = Field(default_factory=dict)


def merged(default: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """The default with a dealer's overrides on top, nested mappings merged key by key."""
    result = dict(default)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result
