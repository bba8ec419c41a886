"""Knobs for the Clipping Magic answers the documentation leaves open, each defaulting to the strict one
(`guesses.py`, "First contact"): unknown fields refused, storage links that expire and refuse credentials."""

from __future__ import annotations

from collections.abc import Iterable

from dev.standins import guesses
from dev.standins.clippingmagic.errors import ClippingMagicError
from dev.standins.common.error_bodies import ERROR_BODY_KNOB
from dev.standins.common.knobs import Knob, Knobs

UPLOAD_FIELDS = ("image", "test", "format")
DOWNLOAD_PARAMETERS = ("format",)
LIST_PARAMETERS = ("limit", "offset")

CONTRACT_KNOBS: tuple[Knob, ...] = (
    ERROR_BODY_KNOB,
    Knob("strict_fields", bool, True, "refuse upload fields and query parameters the documentation does not name"),
    Knob(
        "storage_link_seconds",
        float,
        guesses.CM_STORAGE_LINK_SECONDS,
        "storage links (the download's redirect targets) answer 403 this long after the redirect",
    ),
    Knob(
        "storage_refuses_credentials",
        bool,
        True,
        "a storage fetch carrying an Authorization header answers 400, as S3 does for a presigned URL",
    ),
)


def check_fields(knobs: Knobs, given: Iterable[str], documented: tuple[str, ...]) -> None:
    """With `--strict-fields`, a field or parameter the documentation does not name is a 400 naming it."""
    if not knobs.strict_fields:
        return
    for name in given:
        if name not in documented:
            message = guesses.CM_UNKNOWN_FIELD_MESSAGE.format(name=name)
            raise ClippingMagicError(400, guesses.CM_CODE_BAD_PARAMETER, message)
