"""One synthetic photo with its ground-truth mask: a vehicle (or a detail / interior shot) on a background."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from dev.sampledata.backgrounds import draw_background
from dev.sampledata.vehicles import TYRE, VehicleLayer, _Canvas, draw_vehicle

NON_EXTERIOR_ANGLES = ("interior", "detail")
STUDIO_TINTS = ((234, 234, 232), (206, 209, 213), (150, 152, 156), (200, 214, 230), (62, 64, 68))
ASPHALT = (88, 88, 92)
SUPERSAMPLE_UP_TO_MEGAPIXELS = 3.0
# Backgrounds are painted at most this large and scaled up, so grain and texture look the same at any size.
BACKGROUND_MEGAPIXELS = 0.3


@dataclass(frozen=True)
class PhotoSpec:
    angle: str  # an exterior angle, "interior" or "detail"
    background: str  # studio, lot or noise
    body: str
    colour: tuple[int, int, int]
    close_background: bool  # background colour chosen close to the vehicle colour
    width: int
    height: int


@dataclass(frozen=True)
class RenderedPhoto:
    image: Image.Image  # RGB
    mask: Image.Image  # L, 255 = vehicle
    parts: dict[str, tuple[int, int]]  # car part -> pixel position, for hotspots


def photo_size(megapixels: float, aspect: float = 3 / 2) -> tuple[int, int]:
    width = round((megapixels * 1_000_000 * aspect) ** 0.5)
    return width, max(1, round(width / aspect))


def _near(rng: np.random.Generator, colour: tuple[int, int, int], distance: float) -> tuple[float, float, float]:
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    near = np.asarray(colour, np.float64) + distance * direction
    return tuple(np.clip(near, 20, 235).tolist())


def _background_colour(rng: np.random.Generator, spec: PhotoSpec) -> tuple[float, float, float]:
    if spec.close_background:
        return _near(rng, spec.colour, rng.uniform(24, 34))
    if spec.background == "studio":
        return STUDIO_TINTS[int(rng.integers(len(STUDIO_TINTS)))]
    if spec.background == "lot":
        return tuple(float(c) * rng.uniform(0.8, 1.3) for c in ASPHALT)
    return tuple(rng.uniform(40, 215, size=3).tolist())


def _paint_background(rng: np.random.Generator, spec: PhotoSpec) -> np.ndarray:
    colour = _background_colour(rng, spec)
    shrink = min(1.0, (BACKGROUND_MEGAPIXELS * 1e6 / (spec.width * spec.height)) ** 0.5)
    if shrink == 1.0:
        return draw_background(spec.background, rng, spec.width, spec.height, colour)
    painted = draw_background(spec.background, rng, round(spec.width * shrink), round(spec.height * shrink), colour)
    channels = [
        Image.fromarray(painted[..., channel]).resize((spec.width, spec.height), Image.Resampling.BICUBIC)
        for channel in range(3)
    ]
    return np.stack([np.asarray(channel) for channel in channels], axis=2)


def _detail_layer(rng: np.random.Generator, spec: PhotoSpec, scale: int) -> VehicleLayer:
    """A close-up of one wheel."""
    canvas = _Canvas(spec.width, spec.height, scale, spec.colour)
    radius = min(spec.width, spec.height) * rng.uniform(0.28, 0.38)
    centre = (spec.width / 2 + rng.uniform(-0.08, 0.08) * spec.width, spec.height / 2)
    canvas.wheel(centre, radius)
    canvas.ellipse(centre, (radius * 0.07, radius * 0.07), TYRE)
    parts = {"wheel": (round(centre[0]), round(centre[1]))}
    return VehicleLayer(
        canvas.image,
        canvas.body,
        canvas.coverage,
        parts,
    )


def _interior(rng: np.random.Generator, spec: PhotoSpec) -> RenderedPhoto:
    """The cockpit fills the frame, so the whole photo counts as vehicle."""
    width, height = spec.width, spec.height
    image = Image.new("RGB", (width, height), (58, 58, 62))
    draw = ImageDraw.Draw(image)
    dash_top = height * rng.uniform(0.38, 0.48)
    draw.rectangle([0, 0, width, dash_top], fill=(175, 195, 215))
    draw.rectangle([0, dash_top, width, dash_top + height * 0.06], fill=(34, 34, 36))
    wheel_x = width * (0.3 if rng.random() < 0.5 else 0.7)
    radius = height * 0.32
    draw.ellipse(
        [wheel_x - radius, height * 0.62 - radius, wheel_x + radius, height * 0.62 + radius],
        outline=(22, 22, 24),
        width=max(2, round(height * 0.05)),
    )
    screen_x = width - wheel_x
    screen = [screen_x - width * 0.08, dash_top + height * 0.1, screen_x + width * 0.08, dash_top + height * 0.22]
    draw.rectangle(screen, fill=(20, 30, 45))
    parts = {
        "steering-wheel": (round(wheel_x), round(height * 0.62)),
        "infotainment": (round(screen_x), round(dash_top + height * 0.16)),
    }
    return RenderedPhoto(image, Image.new("L", (width, height), 255), parts)


def render_photo(spec: PhotoSpec, rng: np.random.Generator) -> RenderedPhoto:
    if spec.angle == "interior":
        return _interior(rng, spec)
    megapixels = spec.width * spec.height / 1e6
    scale = 2 if megapixels <= SUPERSAMPLE_UP_TO_MEGAPIXELS else 1
    background = _paint_background(rng, spec)
    if spec.angle == "detail":
        layer = _detail_layer(rng, spec, scale)
    else:
        layer = draw_vehicle(rng, spec.angle, spec.body, spec.colour, spec.width, spec.height, scale)
    if scale > 1:
        background = background.repeat(scale, axis=0).repeat(scale, axis=1)
    alpha = np.asarray(layer.coverage, np.float32)[..., None] / 255
    composite = background * (1 - alpha) + np.asarray(layer.image, np.float32) * alpha
    image = Image.fromarray(np.clip(composite + 0.5, 0, 255).astype(np.uint8))
    coverage = layer.coverage
    if scale > 1:
        image, coverage = image.reduce(scale), coverage.reduce(scale)
    mask = coverage.point(lambda value: 255 if value >= 128 else 0)
    return RenderedPhoto(image, mask, layer.parts)
