"""Thumbnails embedded in the run report, read with the same limits as any untrusted source: a byte cap and
a deadline per read (SSRF-safe for http sources), a pixel cap checked on the header before decoding, and large
decodes one at a time so a few big PNGs cannot add up in memory. A source that was refused is not read again;
an unreadable image leaves an empty cell, never a failed report. A vehicle's thumbnails are cached in S3
(`ThumbnailCache`), so an unchanged vehicle costs the daily report one read."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from PIL import Image

from vehicle_photos.image_common.fetch import fetch_s3, fetch_url, guarded_session
from vehicle_photos.image_common.inspection import read_header
from vehicle_photos.image_common.policy import SourcePolicy
from vehicle_photos.image_common.s3_objects import read_if_exists, write_object
from vehicle_photos.image_common.sources import ImageSource
from vehicle_photos.image_common.urls import redact_url

THUMBNAIL_SIZE = (220, 165)
LARGE_DECODE_PIXELS = 16_000_000
_large_decodes = threading.Semaphore(1)


def thumbnail_data_uri(content: bytes, max_pixels: int) -> str:
    _, width, height = read_header(content[: 1024 * 1024], "thumbnail")
    if width * height > max_pixels:
        raise ValueError(f"{width}x{height} is over the pixel limit")
    lock = _large_decodes if width * height > LARGE_DECODE_PIXELS else contextlib.nullcontext()
    with lock, Image.open(io.BytesIO(content)) as image:
        # JPEGs decode at the smallest DCT scale still at least the thumbnail's size (Pillow's default gap of 2
        # decodes twice as wide: twice the CPU for a 220-pixel picture)
        image.thumbnail(THUMBNAIL_SIZE, reducing_gap=1.0)
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
                if source.is_s3:
                    fetch_s3(s3_client, source, policy, buffer)
                else:
                    fetch_url(web, source.uri, policy, buffer)
                return thumbnail_data_uri(buffer.getvalue(), policy.max_pixels)
            except Exception:  # an unreadable image only leaves an empty cell
                return None

        made = pool.map(read, [uri for _, uri in pairs])
        return {name: uri for (name, _), uri in zip(pairs, made, strict=True) if uri}


@dataclass(frozen=True)
class WantedThumbnail:
    name: str  # the report's cell
    uri: str  # what to read
    version: str  # changes whenever the picture may have (the image's identity, or the result's key)


class ThumbnailCache:
    """The thumbnails of one vehicle, kept in S3 as one object keyed by a hash of what they show, so the daily
    report of an unchanged inventory reads one object per shown vehicle instead of two images per photo."""

    def __init__(self, s3_client: Any, bucket: str, prefix: str) -> None:
        self.s3_client, self.bucket, self.prefix = s3_client, bucket, prefix.strip("/")

    def thumbnails(self, vehicles: list[list[WantedThumbnail]], policy: SourcePolicy) -> dict[str, str]:
        """name -> data URI for every thumbnail that could be read; a vehicle read in full is cached."""
        keys = [self._key(wanted) for wanted in vehicles]
        with ThreadPoolExecutor(max_workers=8) as pool:
            cached = list(pool.map(self._get, keys))
        found: dict[str, str] = {}
        missing = [(key, wanted) for key, wanted, hit in zip(keys, vehicles, cached, strict=True) if hit is None]
        for hit in cached:
            found.update(hit or {})
        made = make_thumbnails([(t.name, t.uri) for _, wanted in missing for t in wanted], policy, self.s3_client)
        found.update(made)
        with ThreadPoolExecutor(max_workers=8) as pool:
            complete = [(key, wanted) for key, wanted in missing if all(t.name in made for t in wanted)]
            list(pool.map(lambda entry: self._put(entry[0], {t.name: made[t.name] for t in entry[1]}), complete))
        return found

    def _key(self, wanted: list[WantedThumbnail]) -> str:
        shown = [(t.name, redact_url(t.uri), t.version) for t in wanted]
        digest = hashlib.sha256(json.dumps(shown).encode()).hexdigest()[:32]
        return f"{self.prefix}/{digest}.json"

    def _get(self, key: str) -> dict[str, str] | None:
        """The cached thumbnails, or None when missing or not a cache object (then they are made again)."""
        body = read_if_exists(self.s3_client, self.bucket, key)
        if body is None:
            return None
        try:
            cached = json.loads(body)
        except ValueError:
            return None
        valid = isinstance(cached, dict) and all(
            isinstance(uri, str) and uri.startswith("data:image/") for uri in cached.values()
        )
        return cached if valid else None

    def _put(self, key: str, thumbnails: dict[str, str]) -> None:
        body = json.dumps(thumbnails).encode()
        write_object(self.s3_client, self.bucket, key, body, "application/json")
