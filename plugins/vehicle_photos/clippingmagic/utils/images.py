"""Getting an image ready for upload: any input to a seekable stream Clipping Magic reads, at most the size it
asks for (docs/clipping-magic-api.md, "Upload": pre-shrink to 4,194,404 pixels).

Only the header is read unless the image must be re-encoded: shrunk, or converted from a format Clipping
Magic does not read (WebP). Re-encoding decodes the pixels, so the pixel cap is checked first and all
threads together decode at most `DECODE_BUDGET_PIXELS` at a time: five threads shrinking camera photos
cannot multiply the memory.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from vehicle_photos.image_common.inspection import UnusableImageError
from vehicle_photos.image_common.policy import DEFAULT_MAX_PIXELS

MAX_UPLOAD_PIXELS = 4_194_404
UPLOAD_FORMATS = {"BMP", "GIF", "JPEG", "MPO", "PNG", "TIFF"}
# About 256 MB of decoded RGBA pixels across all threads; one image alone may always go.
DECODE_BUDGET_PIXELS = 64_000_000
SPOOL_MAX_BYTES = 8 * 1024 * 1024  # a spooled copy stays in memory up to this size, then goes to disk
COPY_CHUNK_BYTES = 1024 * 1024


class PixelBudget:
    """Pixels being decoded at once by all threads; a decode waits until its pixels fit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self._changed = threading.Condition()

    @contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: self.in_use == 0 or self.in_use + pixels <= self.limit)
            self.in_use += pixels
        try:
            yield
        finally:
            with self._changed:
                self.in_use -= pixels
                self._changed.notify_all()


DECODES = PixelBudget(DECODE_BUDGET_PIXELS)


@dataclass(frozen=True)
class PreparedImage:
    """A seekable stream, ready to be sent as the multipart `image` field."""

    filename: str
    stream: BinaryIO
    content_type: str
    width: int
    height: int
    reencoded_from: tuple[str, int, int] | None  # (format, width, height) of the input when it was re-encoded
    start: int = 0

    def rewind(self) -> BinaryIO:
        self.stream.seek(self.start)
        return self.stream


ImageInput = str | os.PathLike | bytes | BinaryIO | PreparedImage


@contextmanager
def prepared_image(
    image: ImageInput, filename: str | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Iterator[PreparedImage]:
    """Open `image` (a path, bytes or a binary stream); re-encode it when Clipping Magic cannot take it as it
    is. Raises `UnusableImageError` naming the input for anything unreadable or above `max_pixels`. An image
    prepared already is used as it is."""
    if isinstance(image, PreparedImage):
        yield image
        return
    name = filename or _name_of(image)
    label = str(image) if isinstance(image, str | os.PathLike) else name
    with ExitStack() as cleanup:
        stream = cleanup.enter_context(_seekable_stream(image, label))
        start = stream.tell()
        picture = cleanup.enter_context(_open_header(stream, label))
        width, height = picture.size
        if width * height > max_pixels:
            raise UnusableImageError(
                f"{label} is {width}x{height} = {width * height:,} pixels, over the {max_pixels:,} pixel limit"
            )
        if picture.format in UPLOAD_FORMATS and width * height <= MAX_UPLOAD_PIXELS:
            stream.seek(start)
            yield PreparedImage(name, stream, _mime_type(picture.format), width, height, None, start)
            return
        out = cleanup.enter_context(tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES))
        with DECODES.hold(width * height):
            size, out_format = _reencode(picture, label, out)
        out.seek(0)
        yield PreparedImage(
            str(Path(name).with_suffix(".jpg" if out_format == "JPEG" else ".png")),
            out,
            _mime_type(out_format),
            *size,
            reencoded_from=(picture.format or "", width, height),
        )


def shrunk_size(width: int, height: int, max_pixels: int = MAX_UPLOAD_PIXELS) -> tuple[int, int]:
    """The largest size with the same aspect ratio and at most `max_pixels` pixels."""
    if width * height <= max_pixels:
        return width, height
    scale = math.sqrt(max_pixels / (width * height))
    new_width, new_height = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    while new_width * new_height > max_pixels:  # floating point can leave one row too many
        new_width, new_height = (new_width - 1, new_height) if new_width >= new_height else (new_width, new_height - 1)
    return new_width, new_height


@contextmanager
def _open_header(stream: BinaryIO, label: str) -> Iterator[Image.Image]:
    try:
        with warnings.catch_warnings():  # the pixel cap decides, not Pillow's bomb warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            picture = Image.open(stream)
    except UnidentifiedImageError:
        raise UnusableImageError(f"{label} is not an image (BMP, GIF, JPEG, PNG, TIFF or WebP)") from None
    except (Image.DecompressionBombError, OSError, ValueError, SyntaxError) as error:
        raise UnusableImageError(f"{label}: unreadable image ({error})") from None
    with picture:
        yield picture


def _reencode(picture: Image.Image, label: str, out: BinaryIO) -> tuple[tuple[int, int], str]:
    """A JPEG for photos without transparency, else a PNG, at most MAX_UPLOAD_PIXELS."""
    target = shrunk_size(*picture.size)
    keeps_alpha = picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info
    out_format = "PNG" if keeps_alpha or picture.format == "PNG" else "JPEG"
    try:
        if picture.format in ("JPEG", "MPO"):
            picture.draft("RGB", target)  # libjpeg decodes at a reduced scale: less memory and time
        resized = picture if picture.size == target else picture.resize(target, Image.Resampling.LANCZOS)
        if out_format == "JPEG":
            resized.convert("RGB").save(out, "JPEG", quality=92, icc_profile=picture.info.get("icc_profile"))
        else:
            resized.save(out, "PNG")
    except (OSError, ValueError, SyntaxError) as error:
        raise UnusableImageError(f"{label}: unreadable image ({error})") from None
    return target, out_format


@contextmanager
def _seekable_stream(image: ImageInput, label: str) -> Iterator[BinaryIO]:
    if isinstance(image, bytes | bytearray):
        yield io.BytesIO(image)
    elif isinstance(image, str | os.PathLike):
        try:
            with open(image, "rb") as file:
                yield file
        except OSError as error:
            raise UnusableImageError(f"cannot read {label}: {error}") from None
    elif _is_seekable(image):
        yield image
    else:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES) as spool:
            shutil.copyfileobj(image, spool, COPY_CHUNK_BYTES)
            spool.seek(0)
            yield spool


def _is_seekable(stream: BinaryIO) -> bool:
    try:
        return stream.seekable()
    except (AttributeError, ValueError):
        return False


def _name_of(image: ImageInput) -> str:
    if isinstance(image, str | os.PathLike):
        return Path(image).name
    stream_name = getattr(image, "name", None)
    return Path(stream_name).name if isinstance(stream_name, str) and stream_name else "image"


def _mime_type(image_format: str) -> str:
    return "image/jpeg" if image_format == "MPO" else Image.MIME[image_format]
