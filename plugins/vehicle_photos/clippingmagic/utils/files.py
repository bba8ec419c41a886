"""Files on their way through a task: an image source read at most once (streamed within the policy's byte cap
and deadline, through the SSRF-safe session) into a spooled file that is inspected before anything is billed
(what Clipping Magic answers is checked and stored by `clippingmagic.utils.outputs`)."""

from __future__ import annotations

import tempfile
from types import TracebackType
from typing import IO, Any

import requests

from vehicle_photos.clippingmagic.utils.images import SPOOL_MAX_BYTES
from vehicle_photos.image_common.fetch import FetchedSource, fetch_s3, fetch_url
from vehicle_photos.image_common.identity import content_identity, s3_identity_etag
from vehicle_photos.image_common.inspection import ImageFacts, inspect_file
from vehicle_photos.image_common.policy import SourcePolicy
from vehicle_photos.image_common.sources import ImageItem

_EXTENSIONS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tif",
               "WEBP": ".webp"}  # fmt: skip


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
                # the version the item's identity names, never a newer upload of the key
                etag = s3_identity_etag(self.item.identity or "")
                self._fetched = fetch_s3(self.s3_client, source, self.policy, self.file, etag)
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
