"""Parquet: rows are numbered from 1; a bad row or a bad value costs only its row, damaged data only the rows
of its row group, and a file pyarrow cannot open is one file-level rejection."""

import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include.listings import parquet_rows
from include.listings.load import ListingFile
from include.listings.validate import validate_listing_files
from tests.listings.listing_rows import VINS, accepted_lines, jsonl_file, jsonl_line, parquet_file, row
from tests.listings.listing_rows import parquet_rows as encode


def _table(rows: list[dict], **columns: pa.Array) -> pa.Table:
    table = pa.Table.from_pylist(rows)
    for name, values in columns.items():
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, values)
        else:
            table = table.append_column(name, values)
    return table


def test_a_column_of_the_wrong_type_rejects_only_the_rows_it_affects():
    table = _table([row(vin) for vin in VINS[:3]], colour=pa.array([None, 5, None], pa.int64()))
    result = validate_listing_files([ListingFile("dealer.parquet", parquet_file(table))])
    assert accepted_lines(result) == {VINS[0]: 1, VINS[2]: 3}
    (rejected,) = result.rejected
    assert (rejected.line, rejected.raw) == (2, None)
    assert rejected.reason == "colour: Input should be a valid string"
    assert rejected.row["vehicle_id"] == VINS[1] and rejected.row["colour"] == 5


def test_a_nested_field_of_the_wrong_type_rejects_only_the_rows_whose_values_do_not_fit():
    hotspots = [[{"image": 0, "x": "10", "y": 1}], [{"image": 0, "x": "ten", "y": 1}], []]
    rows = [row(vin, hotspots=spots) for vin, spots in zip(VINS, hotspots, strict=False)]
    result = validate_listing_files([ListingFile("dealer.parquet", encode(*rows))])
    assert accepted_lines(result) == {VINS[0]: 1, VINS[2]: 3}
    assert result.listings[0].hotspots[0].x == 10
    (rejected,) = result.rejected
    assert rejected.line == 2 and "hotspots.0.x: Input should be a valid integer" in rejected.reason


def test_a_value_pyarrow_cannot_convert_rejects_its_row_in_a_schema_column_and_is_ignored_elsewhere():
    far_future = 2**62  # milliseconds: past year 9999, no Python datetime
    table = _table(
        [row(vin) for vin in VINS[:3]],
        colour=pa.array([None, far_future, None], pa.timestamp("ms")),
        listed_at=pa.array([0, 0, far_future], pa.timestamp("ms")),
    )
    result = validate_listing_files([ListingFile("dealer.parquet", parquet_file(table))])
    assert accepted_lines(result) == {VINS[0]: 1, VINS[2]: 3}
    (rejected,) = result.rejected
    assert rejected.line == 2 and rejected.reason.startswith("colour: value cannot be read (")
    assert rejected.row["vehicle_id"] == VINS[1]
    assert result.warnings == ["dealer.parquet: ignored fields not in the listing schema: 'listed_at'"]


def test_rows_are_numbered_across_batches_and_row_groups(monkeypatch):
    monkeypatch.setattr(parquet_rows, "BATCH_ROWS", 2)
    rows = [row(vin) for vin in VINS[:5]]
    rows[3] = row("NOT-A-VIN")
    content = parquet_file(pa.Table.from_pylist(rows), row_group_size=3)
    result = validate_listing_files([ListingFile("dealer.parquet", content)])
    assert accepted_lines(result) == {VINS[0]: 1, VINS[1]: 2, VINS[2]: 3, VINS[4]: 5}
    assert [(r.line, r.row["vehicle_id"]) for r in result.rejected] == [(4, "NOT-A-VIN")]


def test_damaged_data_costs_only_the_rows_of_its_row_group():
    content = bytearray(parquet_file(pa.Table.from_pylist([row(vin) for vin in VINS[:6]]), row_group_size=2))
    chunk = pq.ParquetFile(pa.BufferReader(bytes(content))).metadata.row_group(1).column(0)
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    content[start : start + chunk.total_compressed_size] = b"\xab" * chunk.total_compressed_size
    result = validate_listing_files([ListingFile("dealer.parquet", bytes(content))])
    assert accepted_lines(result) == {VINS[0]: 1, VINS[1]: 2, VINS[4]: 5, VINS[5]: 6}
    (rejected,) = result.rejected
    assert rejected.line == 3 and rejected.reason.startswith("rows 3 to 4 could not be read (damaged data): ")


@pytest.mark.parametrize("content", [b"not parquet", b"PAR1" + b"\0" * 64 + b"PAR1"], ids=["text", "bad footer"])
def test_a_file_pyarrow_cannot_open_is_one_file_level_rejection(content):
    result = validate_listing_files(
        [ListingFile("broken.parquet", content), ListingFile("ok.jsonl", jsonl_file(jsonl_line(row())))]
    )
    assert len(result.listings) == 1
    (rejected,) = result.rejected
    assert (rejected.file, rejected.line) == ("broken.parquet", None)
    assert rejected.reason.startswith("not a readable Parquet file: ")


def test_metadata_promising_too_many_rows_rejects_the_file_before_reading_it():
    rows = parquet_rows.MAX_PARQUET_ROWS + 1
    content = parquet_file(pa.table({"vehicle_id": pa.nulls(rows, pa.string())}))
    (rejected,) = validate_listing_files([ListingFile("huge.parquet", content)]).rejected
    assert rejected.line is None and f"over the {parquet_rows.MAX_PARQUET_ROWS:,}-row limit" in rejected.reason


def test_unknown_columns_and_struct_fields_warn_once_and_a_pandas_index_is_not_a_column():
    frame = pd.DataFrame(
        [
            {**row(vin, images=[{"ref": "photos/a.jpg", "crop": "auto"}]), "stock_no": i}
            for i, vin in enumerate(VINS[:3])
        ],
        index=[10, 11, 12],
    )
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    result = validate_listing_files([ListingFile("dealer.parquet", buffer.getvalue())])
    assert accepted_lines(result) == {VINS[0]: 1, VINS[1]: 2, VINS[2]: 3}
    assert result.warnings == ["dealer.parquet: ignored fields not in the listing schema: 'images[].crop', 'stock_no'"]


def test_nulls_mean_absent():
    sold = row(VINS[1], listing_status="sold", images=None, features=None, hotspots=None, colour=None)
    result = validate_listing_files([ListingFile("dealer.parquet", encode(row(VINS[0], listing_status=None), sold))])
    assert result.rejected == []
    active, gone = result.listings
    assert (active.listing_status, len(active.images)) == ("active", 2)
    assert (gone.listing_status, gone.images, gone.colour) == ("sold", (), None)
