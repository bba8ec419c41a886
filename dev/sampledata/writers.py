"""Writing listings (CSV, JSON Lines, Parquet) and photos (JPEG) / masks (PNG) byte-for-byte reproducibly."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

COLUMNS = ("vehicle_id", "make", "model", "colour", "listing_status", "images", "features", "hotspots")
NESTED = ("images", "features", "hotspots")
JPEG_QUALITY = 90

_TEXT = pa.string()
PARQUET_SCHEMA = pa.schema(
    [
        ("vehicle_id", _TEXT),
        ("make", _TEXT),
        ("model", _TEXT),
        ("colour", _TEXT),
        ("listing_status", _TEXT),
        ("images", pa.list_(pa.struct([("ref", _TEXT), ("angle", _TEXT), ("provider", _TEXT)]))),
        ("features", pa.list_(pa.struct([("title", _TEXT), ("description", _TEXT), ("icon", _TEXT), ("type", _TEXT)]))),
        (
            "hotspots",
            pa.list_(
                pa.struct(
                    [
                        ("image", pa.int32()),
                        ("x", pa.int32()),
                        ("y", pa.int32()),
                        ("location", _TEXT),
                        ("feature", _TEXT),
                    ]
                )
            ),
        ),
    ]
)


def columns_of(rows: list[dict]) -> tuple[str, ...]:
    """The listing columns, with `dealer_id` when a row names its dealer (sample data for dealer profiles)."""
    return (*COLUMNS, "dealer_id") if any(row.get("dealer_id") for row in rows) else COLUMNS


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def listing_csv(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    columns = columns_of(rows)
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {key: _json(row[key]) if key in NESTED else ("" if row.get(key) is None else row[key]) for key in columns}
        )
    return buffer.getvalue().encode()


def listing_jsonl(rows: list[dict]) -> bytes:
    columns = columns_of(rows)
    return "".join(_json({key: row.get(key) for key in columns}) + "\n" for row in rows).encode()


def listing_parquet(rows: list[dict]) -> bytes:
    columns = columns_of(rows)
    schema = PARQUET_SCHEMA if columns == COLUMNS else PARQUET_SCHEMA.append(pa.field("dealer_id", _TEXT))
    table = pa.Table.from_pylist([{key: row.get(key) for key in columns} for row in rows], schema=schema)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    return buffer.getvalue()


LISTING_WRITERS = {"csv": listing_csv, "jsonl": listing_jsonl, "parquet": listing_parquet}


def jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def write_file(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path
