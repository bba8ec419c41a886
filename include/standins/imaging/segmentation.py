"""Finding the vehicle in a photo from its pixels alone.

The photo's border is taken to be background (a vehicle photo frames the vehicle with some margin). From
thin strips along the four edges we build a background model for every pixel by Coons-patch interpolation,
which reproduces any background of the form f(x) + g(y): vertical and horizontal gradients, a horizon, a
radial vignette. The same interpolation gives the expected background noise and texture at each pixel.
A pixel is vehicle when its locally averaged colour is far from the modelled background (relative to the
noise there), or when it is much smoother than the textured background around it. Morphology, the largest
connected component and hole filling turn that into one solid silhouette.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

WORKING_LONG_SIDE = 640
MIN_SIDE = 16
TEXTURE_WINDOW = 7


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


def foreground(pixels: np.ndarray) -> np.ndarray:
    """Boolean vehicle mask of an RGB float array, at that array's size."""
    height, width, _ = pixels.shape
    depth = max(2, round(0.03 * min(height, width)))
    smoothing = max(3, round(0.012 * max(height, width))) | 1
    statistics_smoothing = max(5, round(0.033 * max(height, width))) | 1

    averaged = ndimage.uniform_filter(pixels, size=(3, 3, 1), mode="nearest")
    background = _modelled_from_border(averaged, depth, smoothing)
    distance = np.linalg.norm(averaged - background, axis=2)
    expected_distance = _modelled_from_border(distance, depth, statistics_smoothing)

    luma = pixels @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    local_mean = ndimage.uniform_filter(luma, size=TEXTURE_WINDOW, mode="nearest")
    local_var = ndimage.uniform_filter(luma * luma, size=TEXTURE_WINDOW, mode="nearest") - local_mean**2
    texture = np.sqrt(np.clip(local_var, 0, None))
    # a parking line crossing the border must not make a whole stripe of the photo look textured
    border_texture = np.median(np.concatenate([texture[:depth].ravel(), texture[-depth:].ravel(),
                                               texture[:, :depth].ravel(), texture[:, -depth:].ravel()]))
    expected_texture = np.minimum(_modelled_from_border(texture, depth, statistics_smoothing), 1.5 * border_texture)

    threshold = 12 + 2.5 * expected_distance + 10 * np.clip(expected_texture - 3, 0, None)
    # the texture window straddles the vehicle's edge, so smooth areas look TEXTURE_WINDOW // 2 too small
    smoother_than_background = ndimage.binary_dilation(
        (expected_texture > 3) & (texture < 0.4 * expected_texture), structure=_disk(TEXTURE_WINDOW // 2)
    )
    first_guess = _silhouette((distance > threshold) | smoother_than_background)
    if not first_guess.any():
        return first_guess
    # Blotches of background the border could not predict: a pixel must also differ from the background
    # right around it.
    nearby = _background_around(averaged, first_guess, background, size=round(0.06 * max(height, width)) | 1)
    distance = np.minimum(distance, np.linalg.norm(averaged - nearby, axis=2))
    return _silhouette((distance > threshold) | smoother_than_background)


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
    working = rgb.resize((max(MIN_SIDE, round(width * factor)), max(MIN_SIDE, round(height * factor))),
                         Image.Resampling.BOX) if factor < 1 else rgb
    mask = foreground(np.asarray(working, dtype=np.float32))
    if not mask.any():
        return Image.new("L", rgb.size, 255)
    small = Image.fromarray(mask.astype(np.uint8) * 255)
    if small.size != rgb.size:
        small = small.resize(rgb.size, Image.Resampling.BILINEAR)
    return small.point(lambda value: 255 if value >= 128 else 0)
