"""Helpers for the stand-in contract tests: small synthetic photos in any format."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from PIL import Image, ImageDraw


def synthetic_photo(size: tuple[int, int] = (320, 240), mode: str = "RGB", fmt: str = "JPEG") -> bytes:
    """A dark "vehicle" box with wheels on a light gradient, encoded in `fmt`."""
    width, height = size
    image = Image.linear_gradient("L").resize(size).convert(mode if mode != "RGBA" else "RGB")
    draw = ImageDraw.Draw(image)
    draw.rectangle((width // 6, height // 3, width * 5 // 6, height * 3 // 4), fill=(150, 20, 30))
    for centre in (width // 3, width * 2 // 3):
        draw.ellipse((centre - height // 10, height * 2 // 3, centre + height // 10, height * 13 // 15), fill=(10,) * 3)
    if mode == "RGBA":
        image = image.convert("RGBA")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def photo() -> Callable[..., bytes]:
    return synthetic_photo
