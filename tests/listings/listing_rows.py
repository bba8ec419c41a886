"""Valid listing rows and their exact encodings, so a test can put a bad line between good ones."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from include.listings.validate import ValidationResult

COLUMNS = ("vehicle_id", "make", "model", "colour", "listing_status", "images", "features", "hotspots")
NESTED = ("images", "features", "hotspots")
VINS = [
    "1HGCM82633A004352",
    "WVWZZZ1JZXW000001",
    "WVWZZZ1JZXW000002",
    "WVWZZZ1JZXW000003",
    "WVWZZZ1JZXW000004",
    "WVWZZZ1JZXW000005",
    "WVWZZZ1JZXW000006",
]
VIN_A, VIN_B = VINS[:2]


def row(vehicle_id: str = VIN_A, **overrides: Any) -> dict[str, Any]:
    base = {
        "vehicle_id": vehicle_id,
        "make": "Volvo",
        "model": "V60",
        "colour": "red",
        "listing_status": "active",
        "images": [{"ref": "photos/a.jpg", "angle": "side-left"}, {"ref": "https://cdn.example/b.jpg"}],
        "features": [{"title": "Heated seats", "icon": "seat", "type": "text"}],
        "hotspots": [{"image": 0, "x": 10, "y": 20, "location": "door"}],
    }
    return {**base, **overrides}


def csv_header(columns: tuple[str, ...] = COLUMNS) -> str:
    return ",".join(columns)


def csv_line(values: dict[str, Any], columns: tuple[str, ...] = COLUMNS) -> str:
    """One CSV line (no line break) as a spreadsheet would write it: list fields as JSON text."""
    buffer = io.StringIO()
    cells = [json.dumps(values[c]) if c in NESTED else ("" if values.get(c) is None else values[c]) for c in columns]
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)  # quotes values holding \r or \n
    return buffer.getvalue().removesuffix("\r\n")


def csv_file(*lines: str, newline: str = "\n") -> bytes:
    return (newline.join(lines) + newline).encode()


def jsonl_line(values: dict[str, Any]) -> str:
    return json.dumps(values, ensure_ascii=False)


def jsonl_file(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def parquet_file(table: pa.Table, **write_options: Any) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **write_options)
    return buffer.getvalue()


def parquet_rows(*rows: dict[str, Any]) -> bytes:
    return parquet_file(pa.Table.from_pylist(list(rows)))


def accepted_lines(result: ValidationResult) -> dict[str, int]:
    return {item.listing.vehicle_id: item.line for item in result.accepted}


def rejected_by_line(result: ValidationResult) -> dict[int | None, Any]:
    by_line = {rejected.line: rejected for rejected in result.rejected}
    assert len(by_line) == len(result.rejected), "two rejections on one line"
    return by_line
