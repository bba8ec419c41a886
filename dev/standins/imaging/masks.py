"""The alpha mask as a PNG and the vehicle cut out onto transparency."""

from __future__ import annotations

import io

from PIL import Image


def alpha_mask_png(mask: Image.Image) -> bytes:
    buffer = io.BytesIO()
    mask.convert("L").save(buffer, format="PNG")
    return buffer.getvalue()


def cutout(image: Image.Image, mask: Image.Image) -> Image.Image:
    """RGBA: the photo's colours with the mask as alpha."""
    result = image.convert("RGB").convert("RGBA")
    result.putalpha(mask.convert("L").resize(result.size))
    return result
