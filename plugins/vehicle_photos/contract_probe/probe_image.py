"""The probe's one small image: drawn here, put in the deployment's bucket, and given to Car-Cutter as a
presigned URL (which never appears in the probe's output)."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

SIZE = (320, 240)


def probe_photo(seed: int = 0) -> bytes:
    """A 320 x 240 JPEG of a dark "vehicle" with two wheels on a light ground (about 6 KB); `seed` changes
    the colour, so two probe images never have the same bytes."""
    width, height = SIZE
    image = Image.new("RGB", SIZE, (214, 218, 222))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height * 3 // 4, width, height), fill=(150, 150, 150))
    body = (40 + seed * 37 % 160, 30, 60)
    draw.rounded_rectangle((width // 8, height // 3, width * 7 // 8, height * 3 // 4), radius=18, fill=body)
    draw.rectangle((width // 3, height // 5, width * 2 // 3, height // 3 + 4), fill=body)
    for centre in (width // 4, width * 3 // 4):
        draw.ellipse((centre - 24, height * 3 // 4 - 24, centre + 24, height * 3 // 4 + 24), fill=(20, 20, 20))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()
