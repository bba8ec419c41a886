"""Photo backgrounds as float RGB arrays (height, width, 3) in 0..255: studio gradient, textured lot, noise."""

from __future__ import annotations

import numpy as np
from PIL import Image

BACKGROUND_KINDS = ("studio", "lot", "noise")
Colour = tuple[float, float, float]


def smooth_noise(rng: np.random.Generator, width: int, height: int, cells: int) -> np.ndarray:
    """Zero-mean, unit-ish noise varying over about `cells` blobs across the width."""
    grid_w = max(2, cells)
    grid_h = max(2, round(cells * height / width))
    coarse = rng.normal(size=(grid_h, grid_w)).astype(np.float32)
    return np.asarray(Image.fromarray(coarse, mode="F").resize((width, height), Image.Resampling.BICUBIC))


def _shift(colour: Colour, amount: float) -> np.ndarray:
    return np.clip(np.asarray(colour, dtype=np.float32) + amount, 0, 255)


def studio(rng: np.random.Generator, width: int, height: int, tint: Colour) -> np.ndarray:
    """A seamless studio backdrop: a vertical gradient around `tint` with a soft vignette."""
    top = _shift(tint, rng.uniform(-25, 10))
    bottom = _shift(tint, rng.uniform(-10, 20))
    rows = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    image = np.broadcast_to(top * (1 - rows) + bottom * rows, (height, width, 3)).copy()
    xs = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :, None]
    ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None, None]
    image -= rng.uniform(4, 18) * (xs**2 + ys**2) / 2
    image += rng.normal(0, 1.2, size=image.shape).astype(np.float32)
    return np.clip(image, 0, 255)


def lot(rng: np.random.Generator, width: int, height: int, ground: Colour) -> np.ndarray:
    """An outdoor lot: sky, a band of trees on the horizon, textured asphalt with worn parking lines."""
    horizon = int(height * rng.uniform(0.28, 0.40))
    treeline = horizon - int(height * rng.uniform(0.05, 0.09))
    image = np.empty((height, width, 3), dtype=np.float32)

    sky_rows = np.linspace(0.0, 1.0, treeline, dtype=np.float32)[:, None, None]
    sky_top, sky_low = np.array([95, 150, 215], np.float32), np.array([190, 210, 232], np.float32)
    image[:treeline] = sky_top * (1 - sky_rows) + sky_low * sky_rows

    tree_colour = np.array([45, 70, 40], np.float32) + rng.uniform(-10, 10, size=3).astype(np.float32)
    band = image[treeline:horizon]
    band[:] = tree_colour + 14 * smooth_noise(rng, width, horizon - treeline, 60)[..., None]
    band += rng.normal(0, 8, size=band.shape).astype(np.float32)

    ground_rows = np.linspace(0.0, 1.0, height - horizon, dtype=np.float32)[:, None, None]
    asphalt = np.asarray(ground, np.float32) * (1.08 - 0.16 * ground_rows)
    asphalt = asphalt + 9 * smooth_noise(rng, width, height - horizon, 12)[..., None]
    asphalt = asphalt + 5 * smooth_noise(rng, width, height - horizon, 90)[..., None]
    asphalt = asphalt + rng.normal(0, 7, size=(height - horizon, width, 1)).astype(np.float32)
    image[horizon:] = asphalt
    _paint_parking_lines(rng, image, horizon)
    return np.clip(image, 0, 255)


def _paint_parking_lines(rng: np.random.Generator, image: np.ndarray, horizon: int) -> None:
    height, width, _ = image.shape
    vanishing_x = width * rng.uniform(0.3, 0.7)
    line_colour = np.array([205, 205, 195], np.float32) if rng.random() < 0.7 else np.array([215, 185, 60], np.float32)
    half_width = max(1.0, width * 0.0012)
    ys, xs = np.mgrid[horizon:height, 0:width].astype(np.float32)
    depth = (ys - horizon) / max(1, height - horizon)
    for start in np.linspace(-0.4, 1.4, int(rng.integers(4, 7))) * width:
        centre = vanishing_x + (start - vanishing_x) * depth
        coverage = np.clip(half_width * (0.3 + depth) - np.abs(xs - centre), 0, 1)[..., None] * 0.55
        image[horizon:] = image[horizon:] * (1 - coverage) + line_colour * coverage


def noise(rng: np.random.Generator, width: int, height: int, base: Colour) -> np.ndarray:
    """A busy, high-variance background: coloured blotches plus strong per-pixel noise."""
    image = np.broadcast_to(np.asarray(base, np.float32), (height, width, 3)).copy()
    for channel in range(3):
        image[..., channel] += 16 * smooth_noise(rng, width, height, 8)
    image += rng.normal(0, 26, size=image.shape).astype(np.float32)
    return np.clip(image, 0, 255)


def draw_background(kind: str, rng: np.random.Generator, width: int, height: int, colour: Colour) -> np.ndarray:
    painters = {"studio": studio, "lot": lot, "noise": noise}
    return painters[kind](rng, width, height, colour)
