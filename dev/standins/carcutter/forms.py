"""Reading and validating Car-Cutter request fields, each only where the documents put it: a multipart body, or
the query (`guesses.CC_FIELDS_ELSEWHERE_MESSAGE`)."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from fastapi import Request
from PIL import Image
from starlette.datastructures import FormData, UploadFile

from dev.standins import guesses
from dev.standins.carcutter.errors import bad_input
from dev.standins.common import pixels

CUT_TYPES = ("complete", "normal", "blur", "none")
PROCESSING_SPEEDS = ("normal", "lazy")
RETOUCHING_ACCURACIES = ("normal", "precise")
RESOLUTION = re.compile(r"^(\d+)x(\d+)$")
_FORM_TYPES = ("multipart/", "application/x-www-form-urlencoded")


def _elsewhere(name: str, place: str) -> str:
    return guesses.CC_FIELDS_ELSEWHERE_MESSAGE.format(name=name, place=place)


MULTIPART = "multipart"  # fields in a multipart/form-data body, none in the query
QUERY = "query"  # fields in the query, none in a body
QUERY_IGNORING_BODY = "query-ignoring-body"  # fields in the query; a body is not even read
FORM = "form"  # the documented reading of the feature / annotation GETs and DELETEs: a multipart body


class Fields:
    """One request's fields, read from the one place the operation takes them."""

    def __init__(self, query: dict[str, list[str]], form: FormData):
        self.query = query
        self.form = form

    @classmethod
    async def read(cls, request: Request, where: str) -> Fields:
        """`where`: MULTIPART (or FORM), QUERY or QUERY_IGNORING_BODY. A field found in the other place is a 400
        naming it, so a client putting a field where the real service may ignore it learns it here."""
        query: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            query.setdefault(key, []).append(value)
        if where == QUERY_IGNORING_BODY:
            return cls(query, FormData())
        content_type = request.headers.get("content-type", "")
        if where == QUERY:
            form = await request.form() if content_type.startswith(_FORM_TYPES) else FormData()
            if form:
                raise bad_input(_elsewhere(next(iter(form.keys())), "body"))
            if not content_type.startswith(_FORM_TYPES) and await request.body():
                raise bad_input(guesses.CC_NO_BODY_MESSAGE)
            return cls(query, FormData())
        if query:
            raise bad_input(_elsewhere(next(iter(query)), "query"))
        if not content_type.startswith("multipart/form-data"):
            raise bad_input(guesses.CC_MULTIPART_REQUIRED_MESSAGE)
        return cls({}, await request.form())

    def all(self, name: str) -> list:
        return self.query.get(name, []) + list(self.form.getlist(name))

    def text(self, name: str, required: bool = False) -> str | None:
        values = [value for value in self.all(name) if isinstance(value, str)]
        if not values or values[0] == "":
            if required:
                raise bad_input(f"missing required parameter '{name}'")
            return None
        return values[0]

    def any_of(self, *names: str, required: bool = False) -> str | None:
        for name in names:
            value = self.text(name)
            if value is not None:
                return value
        if required:
            raise bad_input(f"missing required parameter '{names[0]}'")
        return None

    def choice(self, name: str, allowed: tuple[str, ...], required: bool = False) -> str | None:
        value = self.text(name, required)
        if value is not None and value not in allowed:
            raise bad_input(f"'{name}' must be one of {', '.join(allowed)}")
        return value

    def boolean(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None:
            return None
        if value.lower() in guesses.CC_TRUE_WORDS:
            return True
        if value.lower() in guesses.CC_FALSE_WORDS:
            return False
        raise bad_input(f"'{name}' must be true or false")

    def fraction(self, name: str) -> float | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            raise bad_input(f"'{name}' must be a number between 0 and 1") from None
        if not 0.0 <= number <= 1.0:
            raise bad_input(f"'{name}' must be between 0 and 1")
        return number

    def integer(self, name: str, required: bool = False) -> int | None:
        value = self.text(name, required)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise bad_input(f"'{name}' must be an integer") from None

    def resolution(self, name: str) -> tuple[int, int] | None:
        value = self.text(name)
        if value is None:
            return None
        match = RESOLUTION.match(value)
        low, high = guesses.CC_RESOLUTION_RANGE
        if not match or not all(low <= int(side) <= high for side in match.groups()):
            raise bad_input(f"'{name}' must be WIDTHxHEIGHT, e.g. 1600x1200, each side {low}..{high}")
        width, height = int(match.group(1)), int(match.group(2))
        if width * height > guesses.CC_MAX_IMAGE_PIXELS:
            raise bad_input(f"'{name}' asks for more than {guesses.CC_MAX_IMAGE_PIXELS} pixels")
        return width, height

    def json_document(self, name: str) -> str | None:
        value = self.text(name)
        if value is not None:
            try:
                json.loads(value)
            except ValueError:
                raise bad_input(f"'{name}' must be a JSON document") from None
        return value

    def urls(self, name: str) -> list[str]:
        urls = [value for value in self.all(name) if isinstance(value, str) and value]
        for url in urls:
            if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
                raise bad_input(f"'{name}' must be an http(s) URL")
        return urls

    def upload(self, name: str) -> UploadFile | None:
        value = self.form.get(name)
        if value is None:
            return None
        if not isinstance(value, UploadFile):
            raise bad_input(f"'{name}' must be an uploaded file")
        return value

    async def upload_bytes(self, name: str) -> bytes | None:
        """An uploaded file's bytes, left readable again."""
        upload = self.upload(name)
        if upload is None:
            return None
        body = await upload.read()
        await upload.seek(0)
        return body

    async def image(self, name: str, fmt: str, mode: str) -> Image.Image | None:
        """An uploaded image that must be of one format and channel layout (e.g. PNG with RGBA)."""
        upload = self.upload(name)
        if upload is None:
            return None
        try:
            image = pixels.open_image(await upload.read(), (fmt,), guesses.CC_MAX_IMAGE_PIXELS)
        except pixels.ImageTooLarge as error:
            raise bad_input(f"'{name}': {error}") from None
        except pixels.UnreadableImage:
            raise bad_input(f"'{name}' must be a {fmt} image") from None
        if image.mode != mode:
            raise bad_input(f"'{name}' must be a {fmt} image with {mode} channels, not {image.mode}")
        try:
            return pixels.decode(image, mode)
        except pixels.UnreadableImage:
            raise bad_input(f"'{name}' cannot be decoded") from None
