"""The files Clipping Magic answers, checked (a 200 answer may still be an HTML page or empty) before they are
stored in S3, once: an output key is immutable, so it is created only if absent (`If-None-Match`) and no
take-over, retry or second run overwrites it (`image_common.s3_objects`)."""

from __future__ import annotations

from typing import IO, Any

from vehicle_photos.clippingmagic.exceptions import API, ApiError
from vehicle_photos.clippingmagic.utils.models import CLIPPING_PATH_SVG, DownloadedResult
from vehicle_photos.image_common.inspection import UnusableImageError, inspect_file
from vehicle_photos.image_common.s3_objects import create_object

# Results are at most the documented 4,194,404 pixels; this only keeps a corrupt header from passing.
_MAX_OUTPUT_PIXELS = 64_000_000
_SVG_PEEK_BYTES = 4096


class InvalidOutputError(ApiError):
    """Clipping Magic (or its storage) answered 200 with something that is not the file asked for; it is
    neither stored nor made final, and a later download (free) tries again."""


def check_output(file: IO[bytes], fetched: DownloadedResult) -> None:
    """Raise InvalidOutputError unless the file is what its format says: a complete image (result, alpha
    mask) or an SVG document (clipping path). Leaves the file rewound."""
    shown = f"the {fetched.format} of image {fetched.image_id}"
    if fetched.format == CLIPPING_PATH_SVG:
        file.seek(0)
        head = file.read(_SVG_PEEK_BYTES)
        file.seek(max(0, fetched.size - 64))
        tail = file.read()
        file.seek(0)
        is_svg = head.lstrip().startswith((b"<?xml", b"<svg")) and b"<svg" in head
        if not (is_svg and tail.rstrip().endswith(b"</svg>")):
            raise InvalidOutputError(API, f"{shown} is not an SVG document ({fetched.size} bytes)", status=200)
        return
    try:
        inspect_file(file, fetched.size, fetched.content_type, _MAX_OUTPUT_PIXELS, shown)
    except UnusableImageError as error:
        raise InvalidOutputError(API, str(error), status=200) from None


def put_output(s3_client: Any, file: IO[bytes], bucket: str, key: str, content_type: str | None) -> str:
    """Store a (spooled) file from its start unless its immutable key holds it already (written by an
    earlier try or another run, and kept); returns its `s3://` URI."""
    file.seek(0)
    create_object(s3_client, bucket, key, file, content_type or "application/octet-stream")
    return f"s3://{bucket}/{key}"
