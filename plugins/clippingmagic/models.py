"""What the API answers, as typed values whose public form never carries the image secret."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from airflow.sdk.log import mask_secret

RESULT = "result"
CLIPPING_PATH_SVG = "clipping_path_svg"
ALPHA_MASK_PNG = "alpha_mask_png"
JSON = "json"
RESULT_FORMATS = (RESULT, CLIPPING_PATH_SVG, ALPHA_MASK_PNG)


@dataclass(frozen=True)
class ClippingMagicImage:
    """The Image JSON Object. `secret` is registered with Airflow's secrets masker and left out of `to_dict`."""

    id: int
    result_revision: int
    original_filename: str | None
    test: bool
    secret: str | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClippingMagicImage:
        secret = data.get("secret")
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
        return {
            "id": self.id,
            "resultRevision": self.result_revision,
            "originalFilename": self.original_filename,
            "test": self.test,
        }


@dataclass(frozen=True)
class DownloadedResult:
    """A result (image, SVG clipping path or alpha mask) that was written to a file object."""

    image_id: int
    format: str
    result_revision: int | None
    filename: str | None
    content_type: str | None
    size: int

    @property
    def extension(self) -> str:
        """`.png` / `.jpeg` for results as Content-Disposition names them, `.svg` / `.png` for the others."""
        if self.filename and "." in self.filename:
            return "." + self.filename.rsplit(".", 1)[1].lower()
        return {CLIPPING_PATH_SVG: ".svg", ALPHA_MASK_PNG: ".png"}.get(self.format, ".png")

    def to_dict(self) -> dict[str, Any]:
        return {
            "image_id": self.image_id,
            "format": self.format,
            "result_revision": self.result_revision,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
        }


def filename_from_content_disposition(value: str | None) -> str | None:
    """The filename of a Content-Disposition header, RFC 2231 / 6266 encodings included."""
    if not value:
        return None
    message = Message()
    message["content-disposition"] = value
    return message.get_filename()
