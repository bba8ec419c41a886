"""The account's own ids (guidelines, locations, scenes) and what a scene looks like, for the submissions."""

from __future__ import annotations

from PIL import Image

from dev.standins import guesses
from dev.standins.carcutter.errors import CarCutterError
from dev.standins.common.knobs import Knob, Knobs

ACCOUNT_KNOBS: tuple[Knob, ...] = (
    Knob("account_guideline_ids", str, "", "comma list of the account's guideline ids; others are a 400 (empty: any)"),
    Knob("account_location_ids", str, "", "comma list of the account's location ids; others are a 400 (empty: any)"),
    Knob(
        "account_scene_ids",
        str,
        ",".join(guesses.CC_SCENES),
        "comma list of the account's scene ids; others are a 400 (empty: any)",
    ),
)


def check_account_id(knobs: Knobs, field: str, value: str | None) -> None:
    """A 400 for an id the account does not list (when it lists any)."""
    listed = [part.strip() for part in str(getattr(knobs, f"account_{field}s")).split(",") if part.strip()]
    if value and listed and value not in listed:
        raise CarCutterError(400, guesses.CC_UNKNOWN_ID_MESSAGE.format(field=field, value=value))


def scene_backdrop(scene_id: str | None) -> Image.Image | None:
    """A small plain backdrop in the scene's colour (stretched to the result); None: the studio default."""
    colour = guesses.CC_SCENES.get(scene_id or "")
    return Image.new("RGB", (8, 8), colour) if colour else None
