"""Helpers for the stand-in contract tests: small synthetic photos, huge-canvas PNGs, a stand-in's peak memory."""

from __future__ import annotations

import functools
import io
import struct
import threading
import zlib
from collections.abc import Callable

import psutil
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


@functools.cache
def blank_png(width: int, height: int) -> bytes:
    """A complete, valid black 1-bit PNG of any canvas size, built row by row: a huge canvas makes a small file
    (30000 x 30000 px is about 110 KB) that a decoder would blow up to gigabytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte "none", then the packed bits
    compressor = zlib.compressobj(9)
    rows_per_step = max(1, (1 << 22) // len(row))
    body = bytearray()
    for start in range(0, height, rows_per_step):
        body += compressor.compress(row * min(rows_per_step, height - start))
    body += compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", bytes(body)) + chunk(b"IEND", b"")


class PeakMemory:
    """The largest resident set size a process reaches while the `with` block runs, sampled every 10 ms."""

    def __init__(self, pid: int):
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, self.process.memory_info().rss)
            if self._stop.wait(0.01):
                return

    def __enter__(self) -> PeakMemory:
        self._sampler.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._sampler.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def peak_mib(self) -> float:
        return self.peak / 2**20


@pytest.fixture
def peak_memory(local_stack) -> Callable[[str], PeakMemory]:
    """`with peak_memory("carcutter") as memory: ...` then `memory.peak_mib` (a stand-in the stack started)."""
    return lambda name: PeakMemory(local_stack.processes[name].pid)
