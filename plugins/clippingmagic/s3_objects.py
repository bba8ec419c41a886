"""S3 plumbing shared by the operators: sources, locations, spooled streaming, and where outputs go."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any
from urllib.parse import urlparse

import requests

from image_records import s3_image_identity, url_image_identity

# Up to this size a spooled object stays in memory; larger ones go to a temporary file.
SPOOL_MAX_BYTES = 8 * 1024 * 1024
PROVIDER_FOLDER = "clippingmagic"


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @classmethod
    def parse(cls, value: str, default_bucket: str | None) -> S3Location:
        """`s3://bucket/key`, or a plain key in `default_bucket`."""
        if value.startswith("s3://"):
            bucket, _, key = value.removeprefix("s3://").partition("/")
            if not bucket or not key:
                raise ValueError(f"not an S3 object URI: {value!r}")
            return cls(bucket, key)
        if not default_bucket:
            raise ValueError(f"{value!r} is a plain key but no bucket was given")
        return cls(default_bucket, value.lstrip("/"))


@dataclass(frozen=True)
class SourceImage:
    """An image to send: an S3 object (`s3://bucket/key`) or an http(s) URL, and optionally the folder
    (a vehicle id) its outputs go under; without one, the folder is the source's parent folder name."""

    uri: str
    folder: str | None = None

    @property
    def is_url(self) -> bool:
        return self.uri.startswith(("http://", "https://"))

    @property
    def location(self) -> S3Location:
        return S3Location.parse(self.uri, None)

    @property
    def path(self) -> str:
        """The key of an S3 source, the path of a URL: what output and upload names derive from."""
        return urlparse(self.uri).path.lstrip("/") if self.is_url else self.location.key

    def identity(self, s3_hook: Any, web: requests.Session) -> str:
        if self.is_url:
            return url_image_identity(self.uri, web)
        return s3_image_identity(s3_hook, self.location.bucket, self.location.key)

    @classmethod
    def parse(cls, item: str | dict[str, Any], default_bucket: str | None) -> SourceImage:
        """A key, an `s3://` URI or an http(s) URL, or `{"source": ..., "vehicle_id": ...}`."""
        if isinstance(item, dict):
            if "source" not in item:
                raise ValueError(f"image item without a 'source': {item!r}")
            folder = item.get("vehicle_id")
            return cls(cls.parse(item["source"], default_bucket).uri, str(folder) if folder else None)
        if item.startswith(("http://", "https://")):
            if not urlparse(item).netloc:
                raise ValueError(f"not an image URL: {item!r}")
            return cls(item)
        return cls(S3Location.parse(item, default_bucket).uri)


def source_locations(
    client: Any, keys: list[Any] | str | None, manifest_key: str | None, bucket: str | None
) -> list[SourceImage]:
    """The images to work on: explicit items and/or a JSON manifest listing keys (or `s3://` URIs).

    Items are S3 keys, `s3://` URIs, http(s) URLs, or dicts with `source` and `vehicle_id`. Plain keys are
    in `bucket`; plain keys of a manifest default to the manifest's own bucket.
    """
    explicit = [keys] if isinstance(keys, str) else list(keys or [])
    sources = [SourceImage.parse(item, bucket) for item in explicit]
    if manifest_key:
        manifest = S3Location.parse(manifest_key, bucket)
        listed = json.loads(client.get_object(Bucket=manifest.bucket, Key=manifest.key)["Body"].read())
        if not isinstance(listed, list) or not all(isinstance(item, str | dict) for item in listed):
            raise ValueError(f"manifest {manifest.uri} must be a JSON list of S3 keys")
        sources += [SourceImage.parse(item, bucket or manifest.bucket) for item in listed]
    return list(dict.fromkeys(sources))


@contextmanager
def spooled() -> Iterator[IO[bytes]]:
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES) as spool:
        yield spool


@contextmanager
def downloaded(client: Any, source: SourceImage, web: requests.Session | None = None) -> Iterator[IO[bytes]]:
    """The image streamed into a spooled temporary file (seekable, on disk when large)."""
    with spooled() as spool:
        if source.is_url:
            with (web or requests.Session()).get(source.uri, stream=True, timeout=60) as response:
                response.raise_for_status()
                for chunk in response.iter_content(1024 * 1024):
                    spool.write(chunk)
        else:
            client.download_fileobj(source.location.bucket, source.location.key, spool)
        spool.seek(0)
        yield spool


def upload(client: Any, stream: IO[bytes], location: S3Location, content_type: str | None) -> str:
    stream.seek(0)
    extra = {"ContentType": content_type} if content_type else None
    client.upload_fileobj(stream, location.bucket, location.key, ExtraArgs=extra)
    return location.uri


def put_json(client: Any, location: S3Location, document: Any) -> str:
    body = json.dumps(document, indent=1, sort_keys=True, default=str).encode()
    client.put_object(Bucket=location.bucket, Key=location.key, Body=body, ContentType="application/json")
    return location.uri


def output_stem(source: SourceImage, dest_prefix: str) -> str:
    """`photos/V123/1_front.jpg` -> `<dest_prefix>/V123/clippingmagic/1_front` (V123: the source's folder, or its
    parent folder's name); outputs add their extension."""
    path = PurePosixPath(source.path)
    folder = source.folder or path.parent.name or path.stem
    return f"{dest_prefix.strip('/')}/{folder}/{PROVIDER_FOLDER}/{path.stem}".lstrip("/")
