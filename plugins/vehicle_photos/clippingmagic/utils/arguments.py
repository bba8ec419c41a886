"""Operator arguments as they arrive once templates and XComArgs are resolved."""

from __future__ import annotations

from typing import Any

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}


def as_bool(value: Any) -> bool:
    """A templated flag renders to text: "true" / "false" are accepted as well as booleans."""
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered not in _TRUE | _FALSE:
            raise ValueError(f"not a boolean: {value!r}")
        return lowered in _TRUE
    return bool(value)


def image_ids_of(items: Any) -> list[int]:
    """Image ids from an int, a list of ints or numeric strings, or a list of dicts with an `id` (the output of
    the upload-for-review operator, the result sensor or the download operator)."""
    if items is None:
        return []
    if not isinstance(items, list | tuple):
        items = [items]
    return [int(item["id"]) if isinstance(item, dict) else int(item) for item in items]
