"""The images tests send: small real photos, and the broken ones hostile listings carry."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageDraw


def car_photo(seed: int = 0, size: tuple[int, int] = (96, 64), image_format: str = "JPEG") -> bytes:
    """A coloured 'car' box with wheels on a grey ground, textured so it does not compress to nothing; the
    seed changes the colours (and so the bytes)."""
    width, height = size
    image = Image.new("RGB", size, (200, 200, 205))
    draw = ImageDraw.Draw(image)
    colour = ((seed * 53) % 256, (seed * 97) % 256, (seed * 31) % 256)
    draw.rectangle((width // 8, height // 3, width - width // 8, height - height // 4), fill=colour)
    for x in (width // 4, width - width // 4):
        draw.ellipse((x - height // 9, height - height // 3, x + height // 9, height - height // 8), fill=(20, 20, 20))
    for x in range(0, width, 7):
        draw.line((x, 0, x, height // 4), fill=((x * (seed + 3)) % 256, 120, 140))
    buffer = io.BytesIO()
    image.save(buffer, image_format, **({"quality": 90} if image_format == "JPEG" else {}))
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height`: a decompression bomb in a few dozen bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def overlay_png(size: tuple[int, int] = (40, 20)) -> bytes:
    """A half-transparent RGBA PNG: what Car-Cutter takes as a license plate or overlay."""
    buffer = io.BytesIO()
    Image.new("RGBA", size, (255, 255, 255, 128)).save(buffer, "PNG")
    return buffer.getvalue()
