"""Files on their way through a task: an image source read at most once (streamed within the policy's byte cap
and deadline, through the SSRF-safe session) into a spooled file that is inspected before anything is billed,
and the files Clipping Magic answers, checked (a 200 answer may still be an HTML page or empty) and stored in
S3 once, never overwritten (`image_common.s3_objects`)."""

from __future__ import annotations

import tempfile
from types import TracebackType
from typing import IO, Any

import requests

from vehicle_photos.clippingmagic.exceptions import API, ApiError
from vehicle_photos.clippingmagic.utils.images import SPOOL_MAX_BYTES
from vehicle_photos.clippingmagic.utils.models import CLIPPING_PATH_SVG, DownloadedResult
from vehicle_photos.image_common.fetch import FetchedSource, fetch_s3, fetch_url
from vehicle_photos.image_common.identity import content_identity
from vehicle_photos.image_common.inspection import ImageFacts, UnusableImageError, inspect_file
from vehicle_photos.image_common.policy import SourcePolicy
from vehicle_photos.image_common.s3_objects import put_new_object
from vehicle_photos.image_common.sources import ImageItem

# Results are at most the documented 4,194,404 pixels; this only keeps a corrupt header from passing.
_MAX_OUTPUT_PIXELS = 64_000_000
_SVG_PEEK_BYTES = 4096

_EXTENSIONS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tif",
               "WEBP": ".webp"}  # fmt: skip


class InvalidOutputError(ApiError):
    """Clipping Magic (or its storage) answered 200 with something that is not the file asked for; it is
    neither stored nor made final, and a later download (free) tries again."""


class SourceFile:
    """Use as `with SourceFile(s3_client, web, policy, item) as source:`; the spooled copy goes on exit."""

    def __init__(self, s3_client: Any, web: requests.Session, policy: SourcePolicy, item: ImageItem) -> None:
        self.s3_client = s3_client
        self.web = web
        self.policy = policy
        self.item = item
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES)  # noqa: SIM115 - closed on exit
        self._fetched: FetchedSource | None = None
        self._facts: ImageFacts | None = None

    def __enter__(self) -> SourceFile:
        return self

    def __exit__(self, *exc_info: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.file.close()

    def fetch(self) -> FetchedSource:
        """Read the source (once); raises SourceFetchError or SourceNotAllowedError with the reason."""
        if self._fetched is None:
            source = self.item.source
            if source.is_s3:
                self._fetched = fetch_s3(self.s3_client, source, self.policy, self.file)
            else:
                self._fetched = fetch_url(self.web, source.uri, self.policy, self.file)
        return self._fetched

    def content_identity(self) -> str:
        """The identity of a source whose server gives no validator: the hash of its one download."""
        return content_identity(self.fetch().sha256)

    def inspect(self) -> ImageFacts:
        """Read and inspect the source (once); raises UnusableImageError for anything not worth paying for."""
        if self._facts is None:
            fetched = self.fetch()
            self._facts = inspect_file(
                self.file, fetched.size, fetched.content_type, self.policy.max_pixels, str(self.item.source)
            )
        return self._facts

    @property
    def extension(self) -> str:
        """The file name extension of what was read, from its content."""
        return _EXTENSIONS.get(self.inspect().format, ".img")


def put_output(s3_client: Any, file: IO[bytes], bucket: str, key: str, content_type: str | None) -> str:
    """Store a (spooled) file unless its immutable key holds it already; returns its `s3://` URI."""
    put_new_object(s3_client, bucket, key, file, content_type)
    return f"s3://{bucket}/{key}"


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
