"""A listing row as read from its file, before validation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RawRow:
    file: str
    line: int  # 1-based physical line in CSV (header = line 1) and JSON Lines; 1-based row number in Parquet
    values: dict[str, Any]
    raw: str | None = None  # the line's text; None for Parquet
