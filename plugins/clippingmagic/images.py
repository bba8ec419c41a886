"""Getting an image ready for upload: any input to a seekable stream, shrunk to the documented size."""

from __future__ import annotations

import io
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from clippingmagic.exceptions import UnreadableImageError

# "The maximum image size is 16,777,216 pixels, which gets shrunk to 4,194,404 pixels.
#  Please pre-shrink your images to the latter size or smaller before uploading."
MAX_UPLOAD_PIXELS = 4_194_404
ACCEPTED_FORMATS = {"BMP", "GIF", "JPEG", "MPO", "PNG", "TIFF"}
# Up to this size a spooled copy stays in memory; larger ones go to a temporary file.
SPOOL_MAX_BYTES = 8 * 1024 * 1024
COPY_CHUNK_BYTES = 1024 * 1024

ImageInput = str | os.PathLike | bytes | BinaryIO


@dataclass(frozen=True)
class PreparedImage:
    """A seekable stream positioned at 0, ready to be sent as the multipart `image` field."""

    filename: str
    stream: BinaryIO
    content_type: str
    width: int
    height: int
    shrunk_from: tuple[int, int] | None
    start: int = 0

    def rewind(self) -> BinaryIO:
        self.stream.seek(self.start)
        return self.stream


@contextmanager
def prepared_image(
    image: ImageInput, filename: str | None = None, max_pixels: int = MAX_UPLOAD_PIXELS
) -> Iterator[PreparedImage]:
    """Open `image` (path, bytes or binary stream) and shrink it, keeping its aspect, if it has too many pixels.

    Only the header is decoded unless shrinking is needed. Raises `UnreadableImageError` naming the input.
    """
    name = filename or _name_of(image)
    label = str(image) if isinstance(image, str | os.PathLike) else name
    with ExitStack() as cleanup:
        stream = cleanup.enter_context(_seekable_stream(image, label))
        start = stream.tell()
        try:
            picture = cleanup.enter_context(Image.open(stream))
        except UnidentifiedImageError as error:
            raise UnreadableImageError(f"cannot read image {label}: not a BMP, GIF, JPEG, PNG or TIFF") from error
        except (OSError, ValueError) as error:
            raise UnreadableImageError(f"cannot read image {label}: {error}") from error
        if picture.format not in ACCEPTED_FORMATS:
            raise UnreadableImageError(
                f"image {label} is {picture.format}; Clipping Magic accepts BMP, GIF, JPEG, PNG and TIFF"
            )
        width, height = picture.size
        if width * height <= max_pixels:
            stream.seek(start)
            yield PreparedImage(name, stream, _mime_type(picture.format), width, height, None, start)
            return
        shrunk = cleanup.enter_context(tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES))
        new_size, out_format = _shrink(picture, label, max_pixels, shrunk)
        shrunk.seek(0)
        yield PreparedImage(
            _with_extension(name, out_format), shrunk, _mime_type(out_format), *new_size, shrunk_from=(width, height)
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


def _shrink(picture: Image.Image, label: str, max_pixels: int, out: BinaryIO) -> tuple[tuple[int, int], str]:
    target = shrunk_size(*picture.size, max_pixels)
    out_format = "JPEG" if picture.format in ("JPEG", "MPO") else "PNG"
    try:
        if out_format == "JPEG":
            picture.draft("RGB", target)  # lets libjpeg decode at a reduced scale: less memory and time
        resized = picture.resize(target, Image.Resampling.LANCZOS)
        if out_format == "JPEG":
            resized = resized.convert("RGB")
            resized.save(out, "JPEG", quality=92, icc_profile=picture.info.get("icc_profile"))
        else:
            resized.save(out, "PNG")
    except (OSError, ValueError) as error:
        raise UnreadableImageError(f"cannot read image {label}: {error}") from error
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
            raise UnreadableImageError(f"cannot read image {label}: {error}") from error
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


def _with_extension(name: str, image_format: str) -> str:
    return str(Path(name).with_suffix(".jpg" if image_format == "JPEG" else ".png"))
