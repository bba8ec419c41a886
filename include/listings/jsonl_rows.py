"""JSON Lines listings: one JSON object per physical line; blank lines are skipped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from include.listings.lines import text_lines
from include.listings.raw_rows import RawRow
from include.listings.rejections import RejectedRow, rejection

MAX_JSON_DEPTH = 16  # a listing row needs 3 (row, list of images, image)
_KIND = {list: "an array", str: "a string", bool: "true/false", int: "a number", float: "a number"}


class BadJson(ValueError):
    """JSON text that is not acceptable; the message is the reason, for a dealer."""


def jsonl_rows(name: str, content: bytes) -> Iterator[RawRow | RejectedRow]:
    for line in text_lines(content):
        if line.problem:
            yield rejection(name, line.number, line.problem, raw=line.text)
            continue
        if not line.text.strip():
            continue
        try:
            value = parse_json(line.text)
        except BadJson as error:
            yield rejection(name, line.number, str(error), raw=line.text)
            continue
        if not isinstance(value, dict):
            kind = "null" if value is None else _KIND.get(type(value), type(value).__name__)
            yield rejection(
                name, line.number, f"line is {kind}, not a JSON object (one vehicle per line)", raw=line.text
            )
            continue
        yield RawRow(name, line.number, value, line.text)


def parse_json(text: str) -> Any:
    """Strict JSON (no NaN / Infinity) nested at most MAX_JSON_DEPTH deep; BadJson otherwise."""
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise BadJson(_too_deep()) from None
    except ValueError as error:  # JSONDecodeError, and integers too long to convert
        raise BadJson(f"not valid JSON: {error}") from None
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _depth_exceeds(value, MAX_JSON_DEPTH):
        raise BadJson(_too_deep())
    return value


def _reject_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _too_deep() -> str:
    return f"JSON is nested more than {MAX_JSON_DEPTH} levels deep"


def _depth_exceeds(value: Any, limit: int) -> bool:
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
