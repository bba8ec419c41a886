"""Parquet listings, read row group by row group and batch by batch with pyarrow; rows are numbered from 1.

A file pyarrow cannot open, or whose metadata promises more rows or bytes than a listing can have, is
rejected whole. Damaged data in a row group rejects, once, the rows of that group not read yet; the other
groups are still read. A value pyarrow cannot turn into Python rejects only its row; a column of the wrong
type rejects, through validation, only the rows whose values do not fit the schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from include.listings.raw_rows import RawRow
from include.listings.rejections import RejectedRow, file_rejection, rejection
from include.listings.schema import TOP_LEVEL_FIELDS

BATCH_ROWS = 4096
MAX_PARQUET_ROWS = 1_000_000
MAX_PARQUET_UNCOMPRESSED_BYTES = 1024 * 1024 * 1024


@dataclass(frozen=True)
class _Unreadable:
    error: str


def parquet_rows(name: str, content: bytes) -> Iterator[RawRow | RejectedRow]:
    try:
        parquet = pq.ParquetFile(pa.BufferReader(content))
    except Exception as error:  # pyarrow raises ArrowInvalid, OSError, ... for bytes it cannot open
        yield file_rejection(name, f"not a readable Parquet file: {error}")
        return
    problem = _size_problem(parquet.metadata)
    if problem:
        yield file_rejection(name, problem)
        return
    index_columns = _pandas_index_columns(parquet.schema_arrow)
    columns = [column for column in parquet.schema_arrow.names if column not in index_columns]
    first = 1
    for group in range(parquet.metadata.num_row_groups):
        group_rows = parquet.metadata.row_group(group).num_rows
        yield from _row_group_rows(name, parquet, group, columns, first, first + group_rows - 1)
        first += group_rows


def _row_group_rows(
    name: str, parquet: pq.ParquetFile, group: int, columns: list[str], first: int, last: int
) -> Iterator[RawRow | RejectedRow]:
    """One row group, batch by batch: damaged data costs the rows of its group that were not read yet."""
    batches = parquet.iter_batches(batch_size=BATCH_ROWS, row_groups=[group], columns=columns)
    number = first - 1
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except Exception as error:  # pyarrow raises OSError, ArrowInvalid, ... for damaged pages
            span = f"row {last}" if number + 1 == last else f"rows {number + 1} to {last}"
            yield rejection(
                name, number + 1, f"{span} could not be read (damaged data): {' '.join(str(error).split())}"
            )
            return
        for values in _batch_rows(batch):
            number += 1
            yield _checked_row(name, number, values)


def _checked_row(name: str, number: int, values: dict[str, Any]) -> RawRow | RejectedRow:
    unreadable = {column: value.error for column, value in values.items() if isinstance(value, _Unreadable)}
    if any(column in TOP_LEVEL_FIELDS for column in unreadable):
        reasons = "; ".join(f"{column}: value cannot be read ({error})" for column, error in unreadable.items())
        readable = {column: value for column, value in values.items() if column not in unreadable}
        return rejection(name, number, reasons, readable)
    return RawRow(name, number, {column: None if column in unreadable else value for column, value in values.items()})


def _batch_rows(batch: pa.RecordBatch) -> Iterator[dict[str, Any]]:
    names = batch.schema.names
    columns = [_column_values(column) for column in batch.columns]
    for row in zip(*columns, strict=True):
        yield dict(zip(names, row, strict=True))


def _column_values(column: pa.Array) -> list[Any]:
    try:
        return column.to_pylist()
    except Exception:  # values with no Python equivalent (e.g. dates past year 9999): find the rows they are in
        return [_element(column, index) for index in range(len(column))]


def _element(column: pa.Array, index: int) -> Any:
    try:
        return column[index].as_py()
    except Exception as error:
        return _Unreadable(f"{type(error).__name__}: {error}")


def _size_problem(metadata: pq.FileMetaData) -> str | None:
    if metadata.num_rows > MAX_PARQUET_ROWS:
        return f"file has {metadata.num_rows:,} rows, over the {MAX_PARQUET_ROWS:,}-row limit for one listing file"
    size = sum(metadata.row_group(index).total_byte_size for index in range(metadata.num_row_groups))
    if size > MAX_PARQUET_UNCOMPRESSED_BYTES:
        return (
            f"file holds {size:,} bytes of data uncompressed, over the "
            f"{MAX_PARQUET_UNCOMPRESSED_BYTES:,}-byte limit for one listing file"
        )
    return None


def _pandas_index_columns(schema: pa.Schema) -> set[str]:
    """Columns pandas wrote for a DataFrame's index: not data, so neither read nor warned about."""
    try:
        pandas_metadata = json.loads((schema.metadata or {}).get(b"pandas", b"{}"))
    except ValueError:
        return set()
    index_columns = pandas_metadata.get("index_columns") if isinstance(pandas_metadata, dict) else None
    return {column for column in index_columns or [] if isinstance(column, str)}
