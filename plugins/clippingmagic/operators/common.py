"""Small pieces the Clipping Magic operators share."""

from __future__ import annotations

from typing import Any

from clippingmagic.models import ALPHA_MASK_PNG, CLIPPING_PATH_SVG, RESULT

# Provider name in image records.
PROVIDER = "clippingmagic"
# What each output is called in records and manifests, and the suffix of its S3 key (results take theirs
# from Content-Disposition: .png or .jpeg).
OUTPUT_NAMES = {RESULT: "result", CLIPPING_PATH_SVG: "clipping_path_svg", ALPHA_MASK_PNG: "alpha_mask_png"}
OUTPUT_SUFFIXES = {CLIPPING_PATH_SVG: ".svg", ALPHA_MASK_PNG: ".mask.png"}
MAX_ERRORS_SHOWN = 10


def as_bool(value: bool | str) -> bool:
    """A templated flag renders to text: accept "true"/"false" as well as booleans."""
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered not in {"true", "false", "1", "0", "yes", "no", ""}:
            raise ValueError(f"not a boolean: {value!r}")
        return lowered in {"true", "1", "yes"}
    return bool(value)


def image_ids_of(items: Any) -> list[int]:
    """Image ids from an int, a list of ints / numeric strings, or a list of dicts with an ``id``."""
    if items is None:
        return []
    if not isinstance(items, list | tuple):
        items = [items]
    return [int(item["id"]) if isinstance(item, dict) else int(item) for item in items]


def failure_summary(failed: list[dict[str, Any]], total: int, max_ratio: float, stopped_by: str | None) -> str:
    lines = [
        f"{len(failed)} of {total} image(s) failed (allowed share: {max_ratio:.0%})"
        + (f"; batch stopped by {stopped_by}" if stopped_by else "")
    ]
    lines += [f"  {item['source'] or item['id']}: {item['error']}" for item in failed[:MAX_ERRORS_SHOWN]]
    if len(failed) > MAX_ERRORS_SHOWN:
        lines.append(f"  ... and {len(failed) - MAX_ERRORS_SHOWN} more (see the image records)")
    return "\n".join(lines)
