"""Uploaded images, their result revisions and the rendering of each result format."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from PIL import Image, ImageColor

from include.standins import guesses
from include.standins.common import pixels

RESULT_FORMATS = ("result", "clipping_path_svg", "alpha_mask_png")


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
    image: Image.Image
    revisions: list[Revision] = field(default_factory=list)
    mask: Image.Image | None = None
    rendered: dict[tuple[int, str], RenderedResult] = field(default_factory=dict)

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

    def render(self, revision_number: int, fmt: str, fast: bool) -> RenderedResult:
        """The file of one format of one revision; pixel work runs once and is kept."""
        key = (revision_number, fmt)
        if key not in self.rendered:
            revision = next(r for r in self.revisions if r.number == revision_number)
            self.rendered[key] = self._render(revision, fmt, fast)
        return self.rendered[key]

    def _render(self, revision: Revision, fmt: str, fast: bool) -> RenderedResult:
        if self.mask is None:
            self.mask = pixels.vehicle_mask(self.image, fast)
        stem = PurePosixPath(self.original_filename).stem or f"image_{self.id}"

        def name(ext: str, suffix: str = "") -> str:
            return guesses.CM_RESULT_NAME.format(stem=stem, revision=revision.number, suffix=suffix, ext=ext)

        if fmt == "clipping_path_svg":
            return RenderedResult(pixels.mask_to_svg(self.mask, fast).encode(), "image/svg+xml", name("svg"))
        if fmt == "alpha_mask_png":
            return RenderedResult(pixels.encode(self.mask, "PNG"), "image/png", name("png", "_mask"))
        cutout = self.image.convert("RGBA")
        cutout.putalpha(self.mask)
        if revision.background is None:
            result, ext, media_type, params = cutout, "png", "image/png", {}
        else:
            result = Image.new("RGBA", cutout.size, ImageColor.getrgb(revision.background))
            result.alpha_composite(cutout)
            result, ext, media_type, params = result.convert("RGB"), "jpeg", "image/jpeg", {"quality": 92}
        if self.test:
            result = pixels.watermark(result)
        return RenderedResult(pixels.encode(result, ext.upper(), **params), media_type, name(ext))


class ImageStore:
    def __init__(self, seed: int):
        self.images: dict[int, StoredImage] = {}
        self.next_id = guesses.CM_FIRST_IMAGE_ID
        self.random = random.Random(seed)

    def reset(self, seed: int) -> None:
        self.images.clear()  # next_id keeps counting: an old id never names a new image
        self.random = random.Random(seed)

    def add(self, image: Image.Image, original_filename: str, test: bool) -> StoredImage:
        stored = StoredImage(
            id=self.next_id,
            secret=f"{self.random.getrandbits(128):032x}",
            original_filename=original_filename,
            test=test,
            image=image,
        )
        self.images[stored.id] = stored
        self.next_id += 1
        return stored
