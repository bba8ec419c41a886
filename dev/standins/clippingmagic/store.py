"""Uploaded images, their result revisions and the rendering of each result format."""

from __future__ import annotations

import functools
import random
import time
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from PIL import Image, ImageColor

from dev.standins import guesses
from dev.standins.common import pixels

RESULT_FORMATS = ("result", "clipping_path_svg", "alpha_mask_png")
RESULT_EXTENSIONS = {"image/svg+xml": "svg", "image/png": "png", "image/jpeg": "jpeg"}
FAST_VEHICLE_COLOUR = (128, 128, 128)


@dataclass(frozen=True)
class RenderedResult:
    body: bytes
    media_type: str
    filename: str


@dataclass
class Revision:
    number: int
    background: str | None  # None: transparent result (PNG); a colour: opaque result (JPEG)


@dataclass
class StoredImage:
    id: int
    secret: str
    original_filename: str
    test: bool
    size: tuple[int, int]  # after the documented shrink
    photo: Image.Image | None  # the decoded pixels; None when uploaded in fast mode (only the header was read)
    revisions: list[Revision] = field(default_factory=list)
    mask: Image.Image | None = None
    rendered: dict[tuple[int, str], RenderedResult] = field(default_factory=dict)
    created_at: float = field(default_factory=time.monotonic)

    @property
    def result_revision(self) -> int:
        return self.revisions[-1].number if self.revisions else 0

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "secret": self.secret,
            "resultRevision": self.result_revision,
            "originalFilename": self.original_filename,
            "test": self.test,
        }

    def add_revision(self, background: str | None = None) -> Revision:
        revision = Revision(self.result_revision + 1, background)
        self.revisions.append(revision)
        return revision

    def revision(self, number: int) -> Revision:
        return next(r for r in self.revisions if r.number == number)

    def media_type(self, revision_number: int, fmt: str) -> str:
        """What one format of one revision is served as, known without rendering it."""
        return result_media_type(fmt, self.revision(revision_number).background)

    def render(self, revision_number: int, fmt: str, fast: bool) -> RenderedResult:
        """The file of one format of one revision; pixel work runs once and is kept."""
        key = (revision_number, fmt)
        if key not in self.rendered:
            self.rendered[key] = self._render(self.revision(revision_number), fmt, fast)
        return self.rendered[key]

    def _render(self, revision: Revision, fmt: str, fast: bool) -> RenderedResult:
        stem = PurePosixPath(self.original_filename).stem or f"image_{self.id}"
        media_type = result_media_type(fmt, revision.background)
        filename = guesses.CM_RESULT_NAME.format(
            stem=stem,
            revision=revision.number,
            suffix="_mask" if fmt == "alpha_mask_png" else "",
            ext=RESULT_EXTENSIONS[media_type],
        )
        if fast or self.photo is None:
            body = fast_result(self.size, fmt, revision.background, self.test)
        else:
            body = self._pixel_result(self.photo, fmt, revision.background)
        return RenderedResult(body, media_type, filename)

    def _pixel_result(self, photo: Image.Image, fmt: str, background: str | None) -> bytes:
        if self.mask is None:
            self.mask = pixels.vehicle_mask(photo, fast=False)
        if fmt == "clipping_path_svg":
            return pixels.mask_to_svg(self.mask, fast=False).encode()
        if fmt == "alpha_mask_png":
            return pixels.encode(self.mask, "PNG")
        cutout = photo.convert("RGBA")
        cutout.putalpha(self.mask)
        return _result_file(cutout, background, self.test)


def result_media_type(fmt: str, background: str | None) -> str:
    """SVG for the clipping path; PNG for the mask and a transparent result; JPEG for an opaque result."""
    if fmt == "clipping_path_svg":
        return "image/svg+xml"
    return "image/png" if fmt == "alpha_mask_png" or background is None else "image/jpeg"


def _result_file(cutout: Image.Image, background: str | None, test: bool) -> bytes:
    """A transparent PNG, or a JPEG on an opaque background; watermarked for test images."""
    if background is None:
        result, fmt, params = cutout, "PNG", {}
    else:
        result = Image.new("RGBA", cutout.size, ImageColor.getrgb(background))
        result.alpha_composite(cutout)
        result, fmt, params = result.convert("RGB"), "JPEG", {"quality": 92}
    if test:
        result = pixels.watermark(result)
    return pixels.encode(result, fmt, **params)


@functools.lru_cache(maxsize=64)
def fast_result(size: tuple[int, int], fmt: str, background: str | None, test: bool) -> bytes:
    """`--fast`: a grey rectangle as the vehicle, drawn once per image size and kept, so no upload is ever decoded
    and every image of one size shares the same few kilobytes."""
    mask = pixels.vehicle_mask(Image.new("L", size), fast=True)  # fast mode only reads the size
    if fmt == "clipping_path_svg":
        return pixels.mask_to_svg(mask, fast=True).encode()
    if fmt == "alpha_mask_png":
        return pixels.encode(mask, "PNG")
    cutout = Image.new("RGBA", size, FAST_VEHICLE_COLOUR)
    cutout.putalpha(mask)
    return _result_file(cutout, background, test)


def preloaded_json(image_id: int) -> dict:
    """An older image of the account (`--preloaded-images`): listed only, never uploaded here."""
    return {"id": image_id, "secret": f"preloaded{image_id:x}", "resultRevision": 1,
            "originalFilename": guesses.CM_PRELOADED_NAME.format(id=image_id), "test": False}  # fmt: skip


class ImageStore:
    def __init__(self, seed: int):
        self.images: dict[int, StoredImage] = {}  # in upload order, which is ascending id order
        self.next_id = guesses.CM_FIRST_IMAGE_ID
        self.random = random.Random(seed)
        self.preloaded = range(0)

    def reset(self, seed: int) -> None:
        self.images.clear()  # next_id keeps counting: an old id never names a new image
        self.random = random.Random(seed)
        self.preloaded = range(0)

    def preload(self, count: int) -> None:
        """Give the account `count` older images, numbered from the next id (earlier uploads stay listed)."""
        self.preloaded = range(self.next_id, self.next_id + count)
        self.next_id += count

    def listed(self, offset: int, limit: int, list_delay: float, descending: bool) -> list[dict]:
        """One page of the list endpoint: the preloaded images and the uploads older than `list_delay`, by id."""
        now = time.monotonic()
        uploads = [image for image in self.images.values() if now - image.created_at >= list_delay]
        before = [image for image in uploads if image.id < self.preloaded.start]
        after = [image for image in uploads if image.id >= self.preloaded.stop]
        total = len(before) + len(self.preloaded) + len(after)
        positions = range(total)[::-1] if descending else range(total)
        page = []
        for position in positions[offset : offset + limit]:
            if position < len(before):
                page.append(before[position].as_json())
            elif position < len(before) + len(self.preloaded):
                page.append(preloaded_json(self.preloaded[position - len(before)]))
            else:
                page.append(after[position - len(before) - len(self.preloaded)].as_json())
        return page

    def add(self, size: tuple[int, int], photo: Image.Image | None, original_filename: str, test: bool) -> StoredImage:
        stored = StoredImage(
            id=self.next_id,
            secret=f"{self.random.getrandbits(128):032x}",
            original_filename=original_filename,
            test=test,
            size=size,
            photo=photo,
        )
        self.images[stored.id] = stored
        self.next_id += 1
        return stored
