"""Refusing an unusable image before anything is billed for it.

A paid API charges for an HTML error page, an empty object or a truncated JPEG just as for a photo, so every
image is inspected first: its declared type, its size, its header (format and dimensions, decoded by Pillow
without decoding the pixels) against the pixel cap, and its last bytes (the end marker of JPEG, PNG and GIF,
the RIFF length of WebP) to catch a file cut short. For an S3 object this costs one ranged read of the first
MiB, which is the whole object for most photos (a 2 MP JPEG is about 330 KB), and a second one of the last
bytes only for larger objects: a request saved per image is worth more than the extra bytes read.
"""

from __future__ import annotations

import dataclasses
import io
import struct
import warnings
from dataclasses import dataclass
from typing import IO, Any

from PIL import Image, UnidentifiedImageError

from vehicle_photos.image_common.fetch import read_s3_range
from vehicle_photos.image_common.sources import ImageSource

ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF"})
HEAD_BYTES = 1024 * 1024  # enough for JPEGs with big EXIF / ICC blocks, which put their frame header far in
TAIL_BYTES = 16
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml")


class UnusableImageError(Exception):
    """Not an image the APIs can process (its message is the reason shown in the manifest)."""


@dataclass(frozen=True)
class ImageFacts:
    format: str
    width: int
    height: int
    size: int
    version_id: str | None = None  # of an S3 object in a versioned bucket: the version inspected

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def media_type(self) -> str:
        return Image.MIME.get(self.format, "application/octet-stream")


def inspect_image(
    head: bytes, tail: bytes, size: int, content_type: str | None, max_pixels: int, shown: str
) -> ImageFacts:
    """`head`: the first bytes (the whole file when small), `tail`: the last bytes, `size`: the total size."""
    if size == 0:
        raise UnusableImageError(f"{shown} is empty (0 bytes)")
    if content_type and content_type.split(";")[0].strip().lower().startswith(_TEXT_TYPES):
        raise UnusableImageError(f"{shown} is {content_type.split(';')[0].strip()}, not an image")
    image_format, width, height = read_header(head, shown)
    if width * height > max_pixels:
        raise UnusableImageError(
            f"{shown} is {width}x{height} = {width * height:,} pixels, over the {max_pixels:,} pixel limit"
        )
    check_complete(image_format, head if size <= len(head) else tail, size, shown)
    return ImageFacts(image_format, width, height, size)


def read_header(head: bytes, shown: str) -> tuple[str, int, int]:
    """Format and dimensions from the header only; no pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(head)) as image:
                image_format, (width, height) = image.format or "", image.size
    except Image.DecompressionBombError as error:
        raise UnusableImageError(f"{shown} is over the pixel limit: {error}") from None
    except UnidentifiedImageError:
        kind = "an HTML page" if head.lstrip()[:15].lower().startswith((b"<!doctype", b"<html")) else "not an image"
        raise UnusableImageError(f"{shown} is {kind}: no known image format") from None
    except (OSError, SyntaxError, ValueError, struct.error) as error:
        raise UnusableImageError(f"{shown}: unreadable image header ({error})") from None
    if image_format not in ACCEPTED_FORMATS:
        raise UnusableImageError(f"{shown} is {image_format}; accepted: JPEG, PNG, WebP, GIF, BMP, TIFF")
    return image_format, width, height


def check_complete(image_format: str, tail: bytes, size: int, shown: str) -> None:
    """The file ends the way its format says it must: a file cut short is refused."""
    if image_format in ("JPEG", "MPO"):
        complete = tail.rstrip(b"\x00").endswith(b"\xff\xd9")
    elif image_format == "PNG":
        complete = tail.endswith(b"IEND\xaeB`\x82")
    elif image_format == "GIF":
        complete = tail.endswith(b";")
    else:
        complete = True  # WebP, BMP and TIFF declare their sizes; the header read is the check
    if not complete:
        raise UnusableImageError(f"{shown} is a truncated {image_format}: its end marker is missing ({size} bytes)")


def inspect_s3_image(s3_client: Any, source: ImageSource, max_pixels: int, if_match: str | None = None) -> ImageFacts:
    """One ranged read of the head (which also tells the size; the whole object up to `HEAD_BYTES`), and one
    of the last bytes for a larger object; of the version with ETag `if_match` when given (SourceFetchError
    if the key holds another). In a versioned bucket the facts name the version inspected."""
    head = read_s3_range(s3_client, source, 0, HEAD_BYTES - 1, if_match)
    if head.size == 0:
        raise UnusableImageError(f"{source} is empty (0 bytes)")
    last = (head.size - TAIL_BYTES, head.size - 1)
    tail = head if head.size <= len(head.content) else read_s3_range(s3_client, source, *last, if_match)
    facts = inspect_image(head.content, tail.content, head.size, None, max_pixels, str(source))
    return dataclasses.replace(facts, version_id=head.version_id)


def inspect_file(file: IO[bytes], size: int, content_type: str | None, max_pixels: int, shown: str) -> ImageFacts:
    """A downloaded (spooled) file; leaves it rewound."""
    file.seek(0)
    head = file.read(HEAD_BYTES)
    file.seek(max(0, size - TAIL_BYTES))
    tail = file.read(TAIL_BYTES)
    file.seek(0)
    return inspect_image(head, tail, size, content_type, max_pixels, shown)
