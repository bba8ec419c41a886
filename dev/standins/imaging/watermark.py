"""The watermark test results carry: a diagonal grid of semi-transparent text."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

WATERMARK_TEXT = "TEST RESULT"


def watermark(image: Image.Image) -> Image.Image:
    """The image with the watermark stamped over it, in the image's own mode (RGB or RGBA)."""
    base = image.convert("RGBA")
    size = max(12, min(base.size) // 12)
    font = ImageFont.load_default(size=size)
    tile = Image.new("RGBA", (base.width * 2, base.height * 2), (0, 0, 0, 0))
    draw = ImageDraw.Draw(tile)
    step_x, step_y = size * len(WATERMARK_TEXT), size * 3
    for row, y in enumerate(range(0, tile.height, step_y)):
        for x in range(-(row % 2) * step_x // 2, tile.width, step_x):
            draw.text(
                (x, y), WATERMARK_TEXT, font=font, fill=(255, 255, 255, 110), stroke_width=1, stroke_fill=(0, 0, 0, 90)
            )
    tile = tile.rotate(30, resample=Image.Resampling.BILINEAR)
    left, top = (tile.width - base.width) // 2, (tile.height - base.height) // 2
    overlay = tile.crop((left, top, left + base.width, top + base.height))
    if image.mode == "RGBA":  # keep the cut-out's transparency, mark only the vehicle
        overlay.putalpha(Image.composite(overlay.getchannel("A"), Image.new("L", base.size, 0), base.getchannel("A")))
    stamped = Image.alpha_composite(base, overlay)
    return stamped if image.mode == "RGBA" else stamped.convert("RGB")
