"""Images a request carries besides the photo (Car-Cutter's overlay and plate inlay, a composite's background):
read from S3 under the same bucket rules and byte and pixel caps as photos, and checked as the API requires.

The planner reads each once to check it and learn its content digest (part of the record options, so a new logo
re-processes exactly the images it is on); the task that sends it reads it again and refuses bytes that no
longer match that digest, so what is billed is what was recorded.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from vehicle_photos.image_common.inspection import UnusableImageError, inspect_image
from vehicle_photos.image_common.policy import SourcePolicy
from vehicle_photos.image_common.s3_objects import get_object
from vehicle_photos.image_common.sources import ImageSource


@dataclass(frozen=True)
class RequestImage:
    """`uri`: `s3://bucket/key`; `sha256`: its content digest as checked."""

    uri: str
    sha256: str

    def to_dict(self) -> dict[str, str]:
        return {"uri": self.uri, "sha256": self.sha256}


def read_request_image(
    s3_client: Any, uri: str, policy: SourcePolicy, image_format: str | None = None, mode: str | None = None
) -> tuple[bytes, RequestImage]:
    """The image's bytes and digest. Raises UnusableImageError naming the reference when it may not be read,
    is over a cap, is not an image, or is not `image_format` in `mode` (e.g. PNG, RGBA)."""
    source = ImageSource.parse(uri)
    policy.check(source)
    answer = get_object(s3_client, source.bucket, source.key)
    if answer["ContentLength"] > policy.max_bytes:
        answer["Body"].close()
        raise UnusableImageError(f"{source} is {answer['ContentLength']:,} bytes, over the {policy.max_bytes:,} limit")
    body = answer["Body"].read(policy.max_bytes + 1)
    facts = inspect_image(body, body[-16:], len(body), None, policy.max_pixels, str(source))
    if image_format and facts.format != image_format:
        raise UnusableImageError(f"{source} is {facts.format}; it must be {image_format}")
    if mode:
        try:
            with Image.open(io.BytesIO(body)) as image:
                found = image.mode
        except (UnidentifiedImageError, OSError) as error:
            raise UnusableImageError(f"{source}: unreadable image ({error})") from None
        if found != mode:
            raise UnusableImageError(f"{source} is {image_format or facts.format} {found}; it must be {mode}")
    return body, RequestImage(source.uri, hashlib.sha256(body).hexdigest())


def read_checked_request_image(s3_client: Any, expected: RequestImage, policy: SourcePolicy, **check: str) -> bytes:
    """The bytes of an image the planner checked; UnusableImageError when they changed since."""
    body, found = read_request_image(s3_client, expected.uri, policy, **check)
    if found.sha256 != expected.sha256:
        raise UnusableImageError(f"{ImageSource.parse(expected.uri)} changed after the run was planned")
    return body
