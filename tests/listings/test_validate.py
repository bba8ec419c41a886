import io
import json

import pandas as pd
import pytest

from include.listings.load import ListingFile
from include.listings.validate import validate_listing_files

VIN_A = "1HGCM82633A004352"
VIN_B = "WVWZZZ1JZXW000001"


def row(vehicle_id: str = VIN_A, **overrides: object) -> dict:
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


def jsonl(*rows: dict) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode()


def csv(*rows: dict) -> bytes:
    frame = pd.DataFrame(
        [{k: json.dumps(v) if isinstance(v, list) else v for k, v in r.items()} for r in rows]
    )
    return frame.to_csv(index=False).encode()


def parquet(*rows: dict) -> bytes:
    buffer = io.BytesIO()
    pd.DataFrame(list(rows)).to_parquet(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "encode"), [("a.jsonl", jsonl), ("a.csv", csv), ("a.parquet", parquet)])
def test_each_format_yields_the_same_listing(name, encode):
    result = validate_listing_files([ListingFile(name, encode(row()))])
    assert result.rejected == []
    (listing,) = result.listings
    assert listing.vehicle_id == VIN_A
    assert [image.ref for image in listing.images] == ["photos/a.jpg", "https://cdn.example/b.jpg"]
    assert listing.features[0].title == "Heated seats"
    assert listing.hotspots[0].location == "door"


def test_bad_rows_are_rejected_with_file_line_and_reason():
    rows = [
        row(),
        row(vehicle_id="NOT-A-VIN"),
        row(VIN_B, images=[{"ref": "ftp://example.com/x.jpg"}]),
        row(VIN_B, make=""),
    ]
    result = validate_listing_files([ListingFile("listings/dt=2026-11-01/x.jsonl", jsonl(*rows))])
    assert [listing.vehicle_id for listing in result.listings] == [VIN_A]
    reasons = {r.line: r.reason for r in result.rejected}
    assert set(reasons) == {2, 3, 4}
    assert "vehicle_id" in reasons[2] and "not a VIN" in reasons[2]
    assert "images.0.ref" in reasons[3] and "ftp" in reasons[3]
    assert "make" in reasons[4]
    assert all(r.file == "listings/dt=2026-11-01/x.jsonl" for r in result.rejected)
    assert result.rejected[0].row["vehicle_id"] == "NOT-A-VIN"


def test_duplicates_keep_the_latest_file_and_reject_the_rest():
    older = ListingFile("a.jsonl", jsonl(row(colour="red")))
    newer = ListingFile("b.csv", csv(row(colour="blue")))
    result = validate_listing_files([older, newer])
    assert [listing.colour for listing in result.listings] == ["blue"]
    (rejected,) = result.rejected
    assert rejected.file == "a.jsonl" and rejected.line == 1
    assert "superseded by b.csv line 1" in rejected.reason


def test_unreadable_file_is_rejected_whole_and_others_still_load():
    result = validate_listing_files(
        [ListingFile("broken.parquet", b"not parquet"), ListingFile("ok.jsonl", jsonl(row()))]
    )
    assert len(result.listings) == 1
    assert result.rejected[0].file == "broken.parquet" and "unreadable" in result.rejected[0].reason


def test_unsupported_extension_names_the_file():
    result = validate_listing_files([ListingFile("listing.xlsx", b"...")])
    assert "listing.xlsx" in result.rejected[0].reason or result.rejected[0].file == "listing.xlsx"


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
