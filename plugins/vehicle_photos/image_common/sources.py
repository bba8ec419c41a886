"""Where an image comes from (`ImageSource`) and what an operator is asked to process (`ImageItem`)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from vehicle_photos.image_common.urls import redact_url

SCHEMES = ("s3", "http", "https")


class InvalidSourceError(ValueError):
    """A source that is not an `s3://bucket/key` URI or an http(s) URL with a host."""


@dataclass(frozen=True)
class ImageSource:
    """An S3 object (`s3://bucket/key`) or an http(s) URL. `str()` is safe to show: no query string."""

    uri: str

    @classmethod
    def parse(cls, value: object, default_bucket: str | None = None) -> ImageSource:
        """`s3://bucket/key`, an http(s) URL, or a plain key in `default_bucket`."""
        if not isinstance(value, str) or not value.strip():
            raise InvalidSourceError(f"an image source must be a non-empty string, got {type(value).__name__}")
        value = value.strip()
        parts = urlsplit(value)
        if not parts.scheme:
            if not default_bucket:
                raise InvalidSourceError(f"{value!r} is a plain key but no bucket was given")
            return cls(f"s3://{default_bucket}/{value.lstrip('/')}")
        if parts.scheme.lower() not in SCHEMES:
            raise InvalidSourceError(f"scheme {parts.scheme!r} is not allowed (only s3, http, https)")
        if parts.scheme == "s3" and (not parts.netloc or not parts.path.strip("/")):
            raise InvalidSourceError(f"{redact_url(value)!r} is not an s3://bucket/key URI")
        if parts.scheme != "s3" and not parts.hostname:
            raise InvalidSourceError(f"{redact_url(value)!r} has no host")
        return cls(value)

    @property
    def is_s3(self) -> bool:
        return self.uri.startswith("s3://")

    @property
    def bucket(self) -> str:
        return urlsplit(self.uri).netloc if self.is_s3 else ""

    @property
    def key(self) -> str:
        return urlsplit(self.uri).path.lstrip("/") if self.is_s3 else ""

    @property
    def path(self) -> str:
        """The S3 key, or the URL's path: what output and upload names derive from."""
        return self.key if self.is_s3 else unquote(urlsplit(self.uri).path).lstrip("/")

    @property
    def stem(self) -> str:
        return posixpath.splitext(posixpath.basename(self.path))[0] or "image"

    @property
    def redacted(self) -> str:
        return redact_url(self.uri)

    def __str__(self) -> str:
        return self.redacted


@dataclass(frozen=True)
class ImageItem:
    """One image an operator is asked to process: its source, the vehicle it belongs to, its name within the
    vehicle (e.g. `03-side-left`, unique per vehicle), and, when the caller knows it already, its identity."""

    source: ImageSource
    vehicle_id: str
    name: str
    identity: str | None = None

    @classmethod
    def parse(cls, entry: Any, position: int, default_bucket: str | None = None) -> ImageItem:
        """`{"source": ..., "vehicle_id": ..., "name": optional, "identity": optional}`; a bare source string
        is accepted for callers that have no vehicle (its folder name is used). Raises InvalidSourceError
        naming the entry's position."""
        try:
            if isinstance(entry, str):
                source = ImageSource.parse(entry, default_bucket)
                folder = posixpath.basename(posixpath.dirname(source.path)) or "images"
                return cls(source, folder, source.stem)
            if not isinstance(entry, dict):
                raise InvalidSourceError(f"expected an object or a string, got {type(entry).__name__}")
            source = ImageSource.parse(entry.get("source"), default_bucket)
            vehicle_id = str(entry.get("vehicle_id") or "").strip()
            if not vehicle_id:
                raise InvalidSourceError("vehicle_id is missing")
            name = str(entry.get("name") or source.stem)
            return cls(source, vehicle_id, name, entry.get("identity") or None)
        except InvalidSourceError as error:
            raise InvalidSourceError(f"image {position}: {error}") from None

    def to_dict(self) -> dict[str, Any]:
        data = {"source": self.source.uri, "vehicle_id": self.vehicle_id, "name": self.name}
        if self.identity:
            data["identity"] = self.identity
        return data
