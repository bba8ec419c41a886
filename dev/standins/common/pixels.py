"""Image decoding and the calls into the pixel work of `dev.standins.imaging`, with a cheap `--fast` path.

Fast mode exists for benchmarks, which measure the client: the vehicle mask is a fixed rectangle and no
segmentation, blurring or compositing happens.
"""

from __future__ import annotations

import importlib
import io
from types import ModuleType

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from dev.standins import guesses

Image.MAX_IMAGE_PIXELS = None  # the stand-ins enforce their own documented limits


class UnreadableImage(ValueError):
    """The bytes are not an image of an accepted format, or cannot be decoded."""


def _imaging() -> ModuleType:
    # Imported on first use: the pixel work is a separate package and fast mode never needs it.
    return importlib.import_module("dev.standins.imaging")


def open_image(data: bytes, formats: tuple[str, ...]) -> Image.Image:
    """Recognise the format from the content (never a file name) and read only the header."""
    try:
        image = Image.open(io.BytesIO(data))
    except Exception as error:
        raise UnreadableImage("not a readable image") from error
    if image.format not in formats:
        raise UnreadableImage(f"image format {image.format} is not accepted")
    return image


def decode(image: Image.Image, mode: str = "RGB") -> Image.Image:
    """Decode the pixels of an image opened by `open_image` (first frame of animations)."""
    try:
        image.load()
        return image.convert(mode) if image.mode != mode else image
    except Exception as error:
        raise UnreadableImage("the image data cannot be decoded") from error


def vehicle_mask(image: Image.Image, fast: bool) -> Image.Image:
    if fast:
        width, height = image.size
        mask = Image.new("L", image.size, 0)
        ImageDraw.Draw(mask).rectangle((width // 10, height // 5, width * 9 // 10, height * 9 // 10), fill=255)
        return mask
    return _imaging().segment_vehicle(image)


def count_vehicles(mask: Image.Image) -> int:
    """Connected parts of the mask at least `CC_SECOND_VEHICLE_SHARE` as large as the largest part."""
    labels, count = ndimage.label(np.asarray(mask) > 127)
    if count == 0:
        return 0
    sizes = np.bincount(labels.ravel())[1:]
    return int((sizes >= guesses.CC_SECOND_VEHICLE_SHARE * sizes.max()).sum())


def mask_to_svg(mask: Image.Image, fast: bool) -> str:
    if fast:
        box = mask.getbbox() or (0, 0, 0, 0)
        left, top, right, bottom = box
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{mask.width}" height="{mask.height}" '
            f'viewBox="0 0 {mask.width} {mask.height}"><path d="M{left},{top}H{right}V{bottom}H{left}Z"/></svg>'
        )
    return _imaging().mask_to_svg(mask)


def watermark(image: Image.Image) -> Image.Image:
    return _imaging().watermark(image)


def compose_car_cutter(image: Image.Image, mask: Image.Image, cut_type: str, fast: bool, **options) -> Image.Image:
    if fast:
        resolution = options.get("resolution")
        return image.resize(resolution) if resolution else image
    return _imaging().compose_car_cutter(image, mask, cut_type, **options)


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()
