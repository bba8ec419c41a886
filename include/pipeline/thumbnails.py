"""Thumbnails embedded in the run report, read with the same limits as any untrusted source: a byte cap and
a deadline per read (SSRF-safe for http sources), a pixel cap checked on the header before decoding, and large
decodes one at a time so a few big PNGs cannot add up in memory. A source that was refused is not read again;
an unreadable image leaves an empty cell, never a failed report."""

from __future__ import annotations

import base64
import contextlib
import io
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PIL import Image

from image_common.fetch import fetch_s3, fetch_url, guarded_session
from image_common.inspection import read_header
from image_common.policy import SourcePolicy
from image_common.sources import ImageSource

THUMBNAIL_SIZE = (220, 165)
LARGE_DECODE_PIXELS = 16_000_000
_large_decodes = threading.Semaphore(1)


def thumbnail_data_uri(content: bytes, max_pixels: int) -> str:
    _, width, height = read_header(content[: 1024 * 1024], "thumbnail")
    if width * height > max_pixels:
        raise ValueError(f"{width}x{height} is over the pixel limit")
    lock = _large_decodes if width * height > LARGE_DECODE_PIXELS else contextlib.nullcontext()
    with lock, Image.open(io.BytesIO(content)) as image:
        image.thumbnail(THUMBNAIL_SIZE)  # JPEGs decode at a reduced scale here
        has_alpha = image.mode in {"RGBA", "LA", "P"}
        converted = image.convert("RGBA" if has_alpha else "RGB")
        buffer = io.BytesIO()
        converted.save(buffer, format="PNG" if has_alpha else "JPEG", quality=80)
    mime = "image/png" if has_alpha else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode()}"


def make_thumbnails(wanted: Iterable[tuple[str, str]], policy: SourcePolicy, s3_client: Any) -> dict[str, str]:
    """`wanted`: (name, source URI) pairs; returns name -> data URI for those that could be read."""
    pairs = [(name, uri) for name, uri in wanted if uri]
    with guarded_session(policy) as web, ThreadPoolExecutor(max_workers=8) as pool:

        def read(uri: str) -> str | None:
            try:
                source = ImageSource.parse(uri)
                buffer = io.BytesIO()
                (fetch_s3(s3_client, source, policy, buffer) if source.is_s3
                 else fetch_url(web, source.uri, policy, buffer))  # fmt: skip
                return thumbnail_data_uri(buffer.getvalue(), policy.max_pixels)
            except Exception:  # an unreadable image only leaves an empty cell
                return None

        made = pool.map(read, [uri for _, uri in pairs])
        return {name: uri for (name, _), uri in zip(pairs, made, strict=True) if uri}
