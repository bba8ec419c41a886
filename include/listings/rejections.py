"""Rejected rows: what was lost, where, and why, in words a dealer can act on.

A rejected row names its file and line (1-based physical line in CSV and JSON Lines, the header being line 1
of a CSV; 1-based row number in Parquet; `None` for a problem with the whole file), the reason, the values
that could be parsed and the raw line text, capped. URL query strings (signatures, tokens) are replaced by
`?…` everywhere in a rejection, because rejections are logged and shown in the run report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MAX_RAW_CHARS = 2_000
TRUNCATED_MARKER = "…[truncated]"
DEFAULT_MAX_LISTING_FILE_BYTES = 256 * 1024 * 1024

_TOKEN_BOUNDARY = re.compile(r"""([\s"'<>]+)""")


@dataclass(frozen=True)
class RejectedRow:
    file: str
    line: int | None
    reason: str
    row: dict[str, Any] = field(default_factory=dict)
    raw: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "reason": self.reason, "row": self.row, "raw": self.raw}


def rejection(
    file: str, line: int | None, reason: str, row: dict[str, Any] | None = None, raw: str | None = None
) -> RejectedRow:
    """A rejected row with secrets redacted and the raw text capped."""
    return RejectedRow(
        file,
        line,
        redact_url_queries(reason),
        redact_values(row or {}),
        None if raw is None else cap_raw(redact_url_queries(raw)),
    )


def file_rejection(file: str, reason: str) -> RejectedRow:
    """A problem with the whole file (not one of its lines): `line` is None."""
    return rejection(file, None, reason)


def oversized_file_reason(size: int, limit: int = DEFAULT_MAX_LISTING_FILE_BYTES) -> str:
    return (
        f"file is {size:,} bytes, over the {limit:,}-byte limit for one listing file "
        "(split the listing into several files); none of its rows were read"
    )


def oversized_file_rejection(file: str, size: int, limit: int = DEFAULT_MAX_LISTING_FILE_BYTES) -> RejectedRow:
    """For the pipeline, which checks an object's size before reading it."""
    return file_rejection(file, oversized_file_reason(size, limit))


def cap_raw(text: str) -> str:
    if len(text) <= MAX_RAW_CHARS:
        return text
    return text[:MAX_RAW_CHARS] + TRUNCATED_MARKER


def redact_url_queries(text: str) -> str:
    """Cuts every `scheme://...?query` token after its `?`. Split into tokens rather than matched with one
    regex, so a hostile line cannot make it quadratic."""
    if "?" not in text or "://" not in text:
        return text
    return "".join(_redact_token(token) for token in _TOKEN_BOUNDARY.split(text))


def _redact_token(token: str) -> str:
    scheme_end = token.find("://")
    query = token.find("?", scheme_end) if scheme_end > 0 else -1
    return token if query < 0 else token[:query] + "?…"


def redact_values(value: Any) -> Any:
    if isinstance(value, str):
        return redact_url_queries(value)
    if isinstance(value, dict):
        return {key: redact_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_values(item) for item in value]
    return value
