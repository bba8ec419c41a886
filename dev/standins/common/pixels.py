"""Image decoding and the calls into the pixel work of `dev.standins.imaging`, with a cheap `--fast` path.

Untrusted images are opened header first: their pixel count is checked against the caller's cap before a
single pixel is decoded, so a small file claiming a huge canvas (a decompression bomb) costs nothing.
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


class UnreadableImage(ValueError):
    """The bytes are not an image of an accepted format, or cannot be decoded."""


class ImageTooLarge(ValueError):
    """The image header announces more pixels than the caller accepts."""

    def __init__(self, pixels: int | None, max_pixels: int):
        amount = f"{pixels} pixels" if pixels is not None else "far too many pixels"
        super().__init__(f"image has {amount}; the maximum is {max_pixels}")
        self.pixels, self.max_pixels = pixels, max_pixels


def _imaging() -> ModuleType:
    # Imported on first use: the pixel work is a separate package and fast mode never needs it.
    return importlib.import_module("dev.standins.imaging")


def open_image(data: bytes, formats: tuple[str, ...], max_pixels: int) -> Image.Image:
    """Recognise the format from the content (never a file name), read only the header, enforce the pixel cap.

    Pillow itself refuses a header beyond twice its own bomb limit (`DecompressionBombError`, without telling the
    size); every cap of the stand-ins is below that limit, so such an image is simply too large.
    """
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise ImageTooLarge(None, max_pixels) from None
    except Exception as error:
        raise UnreadableImage("not a readable image") from error
    if image.format not in formats:
        raise UnreadableImage(f"image format {image.format} is not accepted")
    if image.width * image.height > max_pixels:
        raise ImageTooLarge(image.width * image.height, max_pixels)
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
