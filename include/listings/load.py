"""Listing files: which keys are candidates, which format each is, and its rows one at a time.

Every key in a listing prefix except folder markers (keys ending in `/`) is a candidate: a file of a type
we do not read is rejected by name, never skipped in silence.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from include.listings.csv_rows import csv_rows
from include.listings.jsonl_rows import jsonl_rows
from include.listings.parquet_rows import parquet_rows
from include.listings.raw_rows import RawRow
from include.listings.rejections import RejectedRow, file_rejection

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
_READERS = {"csv": csv_rows, "jsonl": jsonl_rows, "parquet": parquet_rows}


@dataclass(frozen=True)
class ListingFile:
    """A listing file's name (its S3 key or path) and its bytes."""

    name: str
    content: bytes

    @property
    def suffix(self) -> str:
        base = self.name.rsplit("/", 1)[-1]
        return "." + base.rsplit(".", 1)[-1].lower() if "." in base else ""

    @property
    def format(self) -> str | None:
        """`csv`, `jsonl` or `parquet`; None for a type we do not read."""
        return FORMATS.get(self.suffix)


def is_listing_candidate(key: str) -> bool:
    """Whether a key found under a listing prefix is a file to read or reject (folder markers are not)."""
    return bool(key) and not key.endswith("/")


def unsupported_type_reason(suffix: str) -> str:
    shown = f"'{suffix}'" if suffix else "(no extension)"
    return f"unsupported file type {shown} (use .csv, .jsonl or .parquet)"


def read_listing_file(listing: ListingFile) -> Iterator[RawRow | RejectedRow]:
    """The file's rows in order, each either parsed values or a rejection naming its line."""
    if listing.format is None:
        yield file_rejection(listing.name, unsupported_type_reason(listing.suffix))
        return
    yield from _READERS[listing.format](listing.name, listing.content)
