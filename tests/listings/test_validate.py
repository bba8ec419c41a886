"""The schema's rules and the duplicate rule, the same in every format."""

import pytest

from include.listings.load import ListingFile
from include.listings.validate import validate_listing_files
from tests.listings.listing_rows import (
    VIN_A,
    VIN_B,
    VINS,
    csv_file,
    csv_header,
    csv_line,
    jsonl_file,
    jsonl_line,
    parquet_rows,
    row,
)


def jsonl(*rows: dict) -> bytes:
    return jsonl_file(*(jsonl_line(r) for r in rows))


def csv(*rows: dict) -> bytes:
    return csv_file(csv_header(), *(csv_line(r) for r in rows))


FORMATS = [("a.jsonl", jsonl, 0), ("a.csv", csv, 1), ("a.parquet", parquet_rows, 0)]  # name, encoder, header lines


@pytest.mark.parametrize(("name", "encode", "_"), FORMATS)
def test_each_format_yields_the_same_listing(name, encode, _):
    result = validate_listing_files([ListingFile(name, encode(row()))])
    assert (result.rejected, result.warnings) == ([], [])
    (listing,) = result.listings
    assert listing.vehicle_id == VIN_A
    assert [image.ref for image in listing.images] == ["photos/a.jpg", "https://cdn.example/b.jpg"]
    assert listing.features[0].title == "Heated seats"
    assert listing.hotspots[0].location == "door"


@pytest.mark.parametrize(("name", "encode", "header_lines"), FORMATS)
def test_bad_rows_are_rejected_with_file_line_and_reason(name, encode, header_lines):
    rows = [
        row(),
        row(vehicle_id="NOT-A-VIN"),
        row(VIN_B, images=[{"ref": "ftp://example.com/x.jpg"}], hotspots=[]),
        row(VIN_B, make=""),
    ]
    result = validate_listing_files([ListingFile(f"listings/dt=2026-11-01/{name}", encode(*rows))])
    assert [listing.vehicle_id for listing in result.listings] == [VIN_A]
    reasons = {r.line - header_lines: r.reason for r in result.rejected}
    assert set(reasons) == {2, 3, 4}
    assert "vehicle_id" in reasons[2] and "not a VIN" in reasons[2]
    assert "images.0.ref" in reasons[3] and "ftp" in reasons[3]
    assert "make" in reasons[4]
    assert all(r.file == f"listings/dt=2026-11-01/{name}" for r in result.rejected)
    assert result.rejected[0].row["vehicle_id"] == "NOT-A-VIN"


def test_duplicates_keep_the_latest_file_and_reject_the_rest():
    older = ListingFile("a.jsonl", jsonl(row(colour="red"), row(VIN_B)))
    newer = ListingFile("b.csv", csv(row(colour="blue")))
    result = validate_listing_files([older, newer])
    assert [listing.colour for listing in result.listings] == ["blue", "red"]
    (rejected,) = result.rejected
    assert (rejected.file, rejected.line, rejected.row["colour"]) == ("a.jsonl", 1, "red")
    assert rejected.reason == f"duplicate vehicle_id {VIN_A}: superseded by b.csv line 2"


def test_within_a_file_the_last_line_wins_and_rejections_come_in_file_then_line_order():
    first = ListingFile("a.parquet", parquet_rows(row(VINS[2]), row("BAD")))
    second = ListingFile("b.jsonl", jsonl(row(colour="one"), row("ALSO-BAD"), row(colour="two"), row(VINS[2])))
    result = validate_listing_files([first, second])
    assert {listing.vehicle_id: listing.colour for listing in result.listings} == {VIN_A: "two", VINS[2]: "red"}
    assert [(r.file, r.line) for r in result.rejected] == [("a.parquet", 1), ("a.parquet", 2), ("b.jsonl", 1),
                                                           ("b.jsonl", 2)]  # fmt: skip
    assert result.rejected[0].reason.endswith("superseded by b.jsonl line 4")
    assert result.rejected[2].reason.endswith("superseded by b.jsonl line 3")


def test_a_parquet_winner_is_named_by_row():
    result = validate_listing_files(
        [ListingFile("a.jsonl", jsonl(row())), ListingFile("b.parquet", parquet_rows(row()))]
    )
    assert result.rejected[0].reason.endswith("superseded by b.parquet row 1")


def test_hotspot_must_point_at_an_existing_image_and_active_needs_images():
    result = validate_listing_files(
        [ListingFile("x.jsonl", jsonl(row(hotspots=[{"image": 5, "x": 1, "y": 1}]), row(VIN_B, images=[])))]
    )
    assert result.listings == []
    assert "hotspot points at image 5" in result.rejected[0].reason
    assert "at least one image" in result.rejected[1].reason


def test_sold_vehicle_needs_no_images():
    result = validate_listing_files([ListingFile("x.jsonl", jsonl(row(listing_status="sold", images=[], hotspots=[])))])
    assert result.listings[0].listing_status == "sold"


@pytest.mark.parametrize(("name", "encode", "_"), [FORMATS[0], FORMATS[2]])
def test_the_dealer_comes_from_the_column_or_the_folder_and_the_folder_decides(name, encode, _):
    rows = encode(row(VIN_A, dealer_id=None), row(VIN_B, dealer_id="eastgate"), row(VINS[2], dealer_id="northside"))
    in_folder = validate_listing_files([ListingFile(f"listings/dt=2026-11-02/dealer=northside/{name}", rows)])
    assert {listing.vehicle_id: listing.dealer_id for listing in in_folder.listings} == {
        VIN_A: "northside", VINS[2]: "northside"}  # fmt: skip
    (conflict,) = in_folder.rejected
    assert "dealer_id 'eastgate' differs from the file's folder dealer=northside" in conflict.reason
    at_root = validate_listing_files([ListingFile(f"listings/dt=2026-11-02/{name}", rows)])
    assert {listing.vehicle_id: listing.dealer_id for listing in at_root.listings} == {
        VIN_A: None, VIN_B: "eastgate", VINS[2]: "northside"}  # fmt: skip


def test_a_bad_dealer_id_or_folder_is_rejected_with_its_reason():
    bad_column = validate_listing_files([ListingFile("a.jsonl", jsonl(row(VIN_A, dealer_id="north side")))])
    assert "dealer_id" in bad_column.rejected[0].reason and "not a dealer id" in bad_column.rejected[0].reason
    bad_folder = validate_listing_files([ListingFile("listings/dt=2026-11-02/dealer=a b/x.jsonl", jsonl(row()))])
    assert bad_folder.listings == [] and "dealer='a b'" in bad_folder.rejected[0].reason
