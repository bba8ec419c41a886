"""Reading listing files into raw rows, each with its file and line, before any validation."""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

NESTED_COLUMNS = ("images", "features", "hotspots")
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}


@dataclass(frozen=True)
class ListingFile:
    """A listing file's name (its S3 key or path) and its bytes."""

    name: str
    content: bytes

    @property
    def format(self) -> str:
        suffix = "." + self.name.rsplit(".", 1)[-1].lower() if "." in self.name else ""
        if suffix not in FORMATS:
            raise ValueError(f"{self.name}: unsupported listing format {suffix or '(none)'}; use csv, jsonl or parquet")
        return FORMATS[suffix]


@dataclass(frozen=True)
class RawRow:
    file: str
    line: int  # 1-based data line in CSV / JSON Lines (header not counted), row number in Parquet
    values: dict[str, Any]


def read_listing_file(listing: ListingFile) -> list[RawRow]:
    """Rows of a listing file as plain Python values; nested columns of CSV parsed from JSON when possible."""
    frame = _read_frame(listing)
    rows = []
    for position, record in enumerate(frame.to_dict(orient="records"), start=1):
        values = {str(key): _plain(value) for key, value in record.items()}
        if listing.format == "csv":
            values = {key: _parse_nested(key, value) for key, value in values.items()}
        rows.append(RawRow(listing.name, position, values))
    return rows


def _read_frame(listing: ListingFile) -> pd.DataFrame:
    buffer = io.BytesIO(listing.content)
    if listing.format == "csv":
        return pd.read_csv(buffer, dtype=str, keep_default_na=False)
    if listing.format == "jsonl":
        return pd.read_json(buffer, lines=True, dtype=False)
    return pd.read_parquet(buffer)


def _parse_nested(column: str, value: Any) -> Any:
    if column not in NESTED_COLUMNS or not isinstance(value, str):
        return value
    if value.strip() == "":
        return []
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value  # left as text: validation reports it as the wrong type, naming the column


def _plain(value: Any) -> Any:
    """numpy / pyarrow values to JSON-able Python, so rows can be validated and written back out."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
