"""Finding the vehicle in a photo from its pixels alone.

The photo's border is taken to be background (a vehicle photo frames the vehicle with some margin). From
thin strips along the four edges we model the background at every pixel: per row (exact for a horizon, a
sky, a vertical gradient) and by Coons-patch interpolation (exact for any f(x) + g(y), e.g. a vignette);
any mix of the two counts as background. The border also tells the expected colour spread and the fine
grain (noise left after removing a 3 x 3 mean) of the background row by row.

Three cues mark the vehicle: colour far from the background model, much smoother than a grainy background
(asphalt, noise), or edges where the background is smooth (a studio). A first pass takes only clear
evidence; the background is then re-estimated around it, so blotches and clipped shading the border could
not predict are not mistaken for the vehicle. Morphology, hole filling and the main components give one
silhouette, whose rim is trimmed where only the (window-blurred) edge cue supported it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

WORKING_LONG_SIDE = 640
MIN_SIDE = 16
TEXTURE_WINDOW = 5
TEXTURED = 3.0
EDGE_SPREAD = 3
ROUGHER_MARGIN = 1.5
COLOUR_MARGIN = 3.0


def _border_profiles(values: np.ndarray, depth: int, smoothing: int) -> tuple[np.ndarray, ...]:
    """Median across the strip depth, then a running median along each edge: top, bottom, left, right."""
    profiles = (
        np.median(values[:depth], axis=0),
        np.median(values[-depth:], axis=0),
        np.median(values[:, :depth], axis=1),
        np.median(values[:, -depth:], axis=1),
    )
    size = (smoothing,) + (1,) * (values.ndim - 2)
    return tuple(ndimage.median_filter(profile, size=size, mode="nearest") for profile in profiles)


def coons_patch(top: np.ndarray, bottom: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The surface through four edge profiles; exact for any function of the form f(x) + g(y)."""
    height, width = left.shape[0], top.shape[0]
    extra = top.shape[1:]
    u = np.linspace(0.0, 1.0, width, dtype=np.float32).reshape((1, width) + (1,) * len(extra))
    v = np.linspace(0.0, 1.0, height, dtype=np.float32).reshape((height, 1) + (1,) * len(extra))
    top, bottom = top[None], bottom[None]
    left, right = left[:, None], right[:, None]
    corners = (1 - u) * (1 - v) * top[:, :1] + u * (1 - v) * top[:, -1:]
    corners = corners + (1 - u) * v * bottom[:, :1] + u * v * bottom[:, -1:]
    return (1 - u) * left + u * right + (1 - v) * top + v * bottom - corners


def _modelled_from_border(values: np.ndarray, depth: int, smoothing: int) -> np.ndarray:
    return coons_patch(*_border_profiles(values, depth, smoothing))


def _rows_from_border(values: np.ndarray, depth: int, smoothing: int) -> np.ndarray:
    """Each row interpolated between its left and right border values: exact for any function of y."""
    _, _, left, right = _border_profiles(values, depth, smoothing)
    width = values.shape[1]
    u = np.linspace(0.0, 1.0, width, dtype=np.float32).reshape((1, width) + (1,) * (values.ndim - 2))
    return (1 - u) * left[:, None] + u * right[:, None]


def _distance_to_segment(points: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Per-pixel distance from a colour to the colour segment start..end."""
    direction = end - start
    length_squared = np.maximum((direction**2).sum(axis=2, keepdims=True), 1e-6)
    t = np.clip(((points - start) * direction).sum(axis=2, keepdims=True) / length_squared, 0, 1)
    return np.linalg.norm(points - start - t * direction, axis=2)


def _disk(radius: int) -> np.ndarray:
    span = np.arange(-radius, radius + 1)
    return (span[:, None] ** 2 + span[None, :] ** 2) <= radius**2


def _main_components(mask: np.ndarray, share: float = 0.12) -> np.ndarray:
    """The largest connected component and every other one at least `share` of its size."""
    labels, count = ndimage.label(mask)
    if count <= 1:
        return mask
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
    keep = np.flatnonzero(sizes >= share * sizes.max()) + 1
    return np.isin(labels, keep)


def _close(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary closing that does not glue the silhouette to the image edge."""
    padded = np.pad(mask, radius + 1)
    return ndimage.binary_closing(padded, structure=_disk(radius))[radius + 1 : -radius - 1, radius + 1 : -radius - 1]


def _silhouette(cues: np.ndarray) -> np.ndarray:
    mask = ndimage.binary_opening(ndimage.binary_fill_holes(_close(cues, 4)), structure=_disk(3))
    if not mask.any():
        return mask
    return ndimage.binary_fill_holes(_close(_main_components(mask), 6))


def _background_around(averaged: np.ndarray, vehicle: np.ndarray, fallback: np.ndarray, size: int) -> np.ndarray:
    """Background colour near each pixel, averaged from the pixels outside `vehicle` (normalised convolution)."""
    weight = (~vehicle).astype(np.float32)
    support = ndimage.uniform_filter(weight, size, mode="nearest")
    local = ndimage.uniform_filter(averaged * weight[..., None], (size, size, 1), mode="nearest")
    local /= np.maximum(support, 1e-6)[..., None]
    return np.where((support > 0.05)[..., None], local, fallback)


def _fine_texture(pixels: np.ndarray, window: int) -> np.ndarray:
    """Local RMS of what a 3 x 3 mean cannot explain: grain and noise, blind to smooth shading."""
    residual = pixels - ndimage.uniform_filter(pixels, size=(3, 3, 1), mode="nearest")
    return np.sqrt(ndimage.uniform_filter((residual**2).sum(axis=2), size=window, mode="nearest"))


def _border_median(values: np.ndarray, depth: int) -> float:
    return float(
        np.median(
            np.concatenate(
                [values[:depth].ravel(), values[-depth:].ravel(), values[:, :depth].ravel(), values[:, -depth:].ravel()]
            )
        )
    )


def foreground(pixels: np.ndarray) -> np.ndarray:
    """Boolean vehicle mask of an RGB float array, at that array's size."""
    height, width, _ = pixels.shape
    depth = max(2, round(0.03 * min(height, width)))
    smoothing = max(3, round(0.012 * max(height, width))) | 1
    statistics_smoothing = max(5, round(0.033 * max(height, width))) | 1

    averaged = ndimage.uniform_filter(pixels, size=(3, 3, 1), mode="nearest")
    # Top and bottom rows predict variation along x (a vignette) but also spread whatever crosses them (a
    # parking lot's blotches) into the sky above: any mix of the per-row model and the full one is background.
    rows = _rows_from_border(averaged, depth, smoothing)
    background = _modelled_from_border(averaged, depth, smoothing)
    distance = _distance_to_segment(averaged, rows, background)
    expected_distance = np.maximum(_modelled_from_border(distance, depth, statistics_smoothing), 0)

    texture = _fine_texture(pixels, TEXTURE_WINDOW)
    # a parking line crossing the border must not make a whole stripe of the photo look textured
    expected_texture = np.minimum(
        np.maximum(_rows_from_border(texture, depth, statistics_smoothing), 0), 1.5 * _border_median(texture, depth)
    )
    textured_background = expected_texture > TEXTURED
    # a ground so bright (or dark) that its grain is clipped is smooth too
    clipped = (pixels.max(axis=2) >= 250) | (pixels.max(axis=2) <= 5)
    smoother_than_background = ndimage.binary_dilation(
        textured_background & (texture < 0.35 * expected_texture) & ~clipped, structure=_disk(TEXTURE_WINDOW // 2)
    )
    rougher_than_background = ~textured_background & (texture > 3 * expected_texture + ROUGHER_MARGIN)
    threshold = COLOUR_MARGIN + 3 * expected_distance + 4 * np.clip(expected_texture - TEXTURED, 0, None)
    structure = smoother_than_background | rougher_than_background
    # First only what stands out clearly; a backdrop whose shading the border cannot predict (clipped
    # channels, blotches) differs from it by a little over a wide area.
    first_guess = _silhouette(_colour_cue(distance, 2 * threshold) | structure)
    if not first_guess.any():
        return first_guess
    outside = ~ndimage.binary_dilation(first_guess, structure=_disk(2))
    nearby = _background_around(averaged, ~outside, background, size=round(0.04 * max(height, width)) | 1)
    distance = np.minimum(distance, np.linalg.norm(averaged - nearby, axis=2))
    colour = _colour_cue(distance, threshold)
    silhouette = _silhouette(colour | structure)
    # An edge makes the texture window light up on both of its sides: where nothing but that supports the
    # silhouette, its outer rim is background.
    depth_inside = ndimage.distance_transform_edt(np.pad(silhouette, 1))[1:-1, 1:-1]
    trimmed = silhouette & (colour | smoother_than_background | (depth_inside > EDGE_SPREAD))
    return ndimage.binary_fill_holes(_main_components(trimmed))


def _colour_cue(distance: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    return ndimage.binary_opening(distance > threshold, structure=_disk(1))


def segment_vehicle(image: Image.Image) -> Image.Image:
    """Mask (mode "L", 255 = vehicle) of the vehicle in `image`, at the image's size.

    When nothing stands out from the border (a blank image, an interior filling the frame) the whole
    frame is returned as the subject rather than an empty cut-out.
    """
    rgb = image.convert("RGB")
    width, height = rgb.size
    if min(width, height) < MIN_SIDE:
        return Image.new("L", rgb.size, 255)
    factor = min(1.0, WORKING_LONG_SIDE / max(width, height))
    working = (
        rgb.resize((max(MIN_SIDE, round(width * factor)), max(MIN_SIDE, round(height * factor))), Image.Resampling.BOX)
        if factor < 1
        else rgb
    )
    mask = foreground(np.asarray(working, dtype=np.float32))
    if not mask.any():
        return Image.new("L", rgb.size, 255)
    small = Image.fromarray(mask.astype(np.uint8) * 255)
    if small.size != rgb.size:
        small = small.resize(rgb.size, Image.Resampling.BILINEAR)
    return small.point(lambda value: 255 if value >= 128 else 0)
