"""What the API answers, as typed values whose public form never carries the image secret, and the result
formats with the media types each is answered as (docs/clipping-magic-api.md, "Download")."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from airflow.sdk.log import mask_secret

RESULT = "result"
CLIPPING_PATH_SVG = "clipping_path_svg"
ALPHA_MASK_PNG = "alpha_mask_png"
JSON = "json"
RESULT_FORMATS = (RESULT, CLIPPING_PATH_SVG, ALPHA_MASK_PNG)
# The Accept header of each call that returns a file: a transparent result is a PNG, an opaque one a JPEG.
ACCEPTED_MEDIA = {RESULT: "image/png, image/jpeg", CLIPPING_PATH_SVG: "image/svg+xml", ALPHA_MASK_PNG: "image/png"}
# Where the file name does not say (Content-Disposition missing).
DEFAULT_EXTENSIONS = {RESULT: ".png", CLIPPING_PATH_SVG: ".svg", ALPHA_MASK_PNG: ".png"}


def check_result_format(result_format: str) -> str:
    if result_format not in RESULT_FORMATS:
        raise ValueError(f"result format must be one of {', '.join(RESULT_FORMATS)}, got {result_format!r}")
    return result_format


@dataclass(frozen=True)
class ClippingMagicImage:
    """The Image JSON Object. A `secret` kept is registered with Airflow's secrets masker (which recompiles its
    pattern for every new secret, so listings leave them out) and is left out of `to_dict`."""

    id: int
    result_revision: int
    original_filename: str | None
    test: bool
    secret: str | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], keep_secret: bool = True) -> ClippingMagicImage:
        secret = data.get("secret") if keep_secret else None
        if secret:
            mask_secret(secret)
        return cls(
            id=int(data["id"]),
            result_revision=int(data.get("resultRevision") or 0),
            original_filename=data.get("originalFilename"),
            test=bool(data.get("test")),
            secret=secret,
        )

    def to_dict(self) -> dict[str, Any]:
        """The Image JSON Object without its secret, under the API's field names."""
        return {
            "id": self.id,
            "resultRevision": self.result_revision,
            "originalFilename": self.original_filename,
            "test": self.test,
        }


@dataclass(frozen=True)
class DownloadedResult:
    """A result file (image, SVG clipping path or alpha mask) written to a file object."""

    image_id: int
    format: str
    result_revision: int | None
    filename: str | None
    content_type: str | None
    size: int

    @property
    def extension(self) -> str:
        """The file name's extension (`.png` or `.jpeg` for a result, as Clipping Magic names it)."""
        if self.filename and "." in self.filename:
            return "." + self.filename.rsplit(".", 1)[1].lower()
        return DEFAULT_EXTENSIONS[self.format]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def filename_from_content_disposition(value: str | None) -> str | None:
    """The filename of a Content-Disposition header, RFC 2231 / 6266 encodings included."""
    if not value:
        return None
    message = Message()
    message["content-disposition"] = value
    return message.get_filename()
