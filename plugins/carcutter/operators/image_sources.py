"""Where images come from and where results go: input validation, identities, presigning, streaming to S3."""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from boto3.s3.transfer import TransferConfig

from carcutter.hooks.carcutter import CarCutterHook
from image_records import s3_image_identity, split_s3_uri, url_image_identity

# The download threads already run in parallel: each upload streams in the calling thread.
_STREAM_UPLOAD = TransferConfig(use_threads=False)
_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}


@dataclass(frozen=True)
class SourceImage:
    source: str
    vehicle_id: str
    name: str | None = None

    @property
    def is_s3(self) -> bool:
        return self.source.startswith("s3://")


def parse_images(images: Any) -> list[SourceImage]:
    """`[{"source": "s3://bucket/key" | "http(s)://...", "vehicle_id": str, "name": optional}, ...]`
    (a JSON string of that list is accepted too). Raises ValueError naming the first bad entry."""
    if isinstance(images, str):
        images = json.loads(images)
    parsed = []
    for position, entry in enumerate(images or []):
        source, vehicle_id = entry.get("source"), entry.get("vehicle_id")
        if not isinstance(source, str) or urlsplit(source).scheme not in ("s3", "http", "https"):
            raise ValueError(f"image {position}: source must be an s3:// or http(s):// URL")
        if not urlsplit(source).netloc:
            raise ValueError(f"image {position}: source has no bucket or host")
        if not vehicle_id:
            raise ValueError(f"image {position}: vehicle_id is missing")
        parsed.append(SourceImage(source=source, vehicle_id=str(vehicle_id), name=entry.get("name") or None))
    return parsed




def image_identity(image: SourceImage, s3_hook: Any, web: requests.Session) -> str:
    """Stable across runs: S3 key + ETag, or URL + ETag / Last-Modified, else a content hash."""
    if image.is_s3:
        return s3_image_identity(s3_hook, *split_s3_uri(image.source))
    return url_image_identity(image.source, web)


def submission_url(source: str, s3_client: Any, expires_in: int) -> str:
    """The URL Car-Cutter fetches: S3 objects are presigned, http(s) URLs pass through."""
    if not source.startswith("s3://"):
        return source
    bucket, key = split_s3_uri(source)
    return s3_client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in)


def output_key(prefix: str, vehicle_id: str, source: str, name: str | None, digest: str, content_type: str) -> str:
    """`<prefix>/<vehicle_id>/<name or source stem>-<options digest>.<ext>`: a new source version or new
    options get a new key, so earlier outputs (and manifests pointing at them) stay valid."""
    stem = name or posixpath.splitext(posixpath.basename(urlsplit(source).path))[0] or "image"
    extension = _EXTENSIONS.get(content_type.split(";")[0].strip().lower(), ".jpg")
    return f"{prefix.strip('/')}/{vehicle_id}/{stem}-{digest[:12]}{extension}"


def stream_result_to_s3(hook: CarCutterHook, s3_client: Any, image_url: str, bucket: str, key_for: Any) -> str:
    """Stream one result from Car-Cutter into S3 without holding it in memory; returns the S3 URI.
    `key_for(content_type)` names the object once the result's type is known."""
    with hook.open_result(image_url) as response:
        content_type = response.headers.get("Content-Type", "image/jpeg")
        key = key_for(content_type)
        s3_client.upload_fileobj(
            response.raw, bucket, key, ExtraArgs={"ContentType": content_type}, Config=_STREAM_UPLOAD
        )
    return f"s3://{bucket}/{key}"
