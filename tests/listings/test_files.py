"""Files of any name and size: unknown types and oversized files are rejected by name; rejections carry no
secrets and travel as JSON."""

import gc
import io
import json
import zipfile

import pytest

from include.listings.load import ListingFile, is_listing_candidate
from include.listings.rejections import DEFAULT_MAX_LISTING_FILE_BYTES, oversized_file_rejection
from include.listings.validate import validate_listing_files
from tests.listings.listing_rows import VINS, csv_file, csv_header, csv_line, jsonl_file, jsonl_line, row

SIGNED = "https://dealer-bucket.s3.amazonaws.com/a.jpg?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA123"


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("listings/dt=2026-11-01/stock.xlsx", "unsupported file type '.xlsx' (use .csv, .jsonl or .parquet)"),
        ("listings/dt=2026-11-01/STOCK.XLSX", "unsupported file type '.xlsx' (use .csv, .jsonl or .parquet)"),
        ("listings/dt=2026.11.01/stock", "unsupported file type (no extension) (use .csv, .jsonl or .parquet)"),
    ],
)
def test_a_file_of_an_unknown_type_is_one_file_level_rejection_and_the_others_load(name, reason):
    files = [
        ListingFile("listings/dt=2026-11-01/a.jsonl", jsonl_file(jsonl_line(row(VINS[0])))),
        ListingFile(name, _xlsx()),
        ListingFile("listings/dt=2026-11-01/b.csv", csv_file(csv_header(), csv_line(row(VINS[1])))),
    ]
    result = validate_listing_files(files)
    assert [listing.vehicle_id for listing in result.listings] == VINS[:2]
    assert [rejected.to_dict() for rejected in result.rejected] == [
        {"file": name, "line": None, "reason": reason, "row": {}, "raw": None}
    ]


@pytest.mark.parametrize(
    ("key", "candidate"),
    [
        ("listings/dt=2026-11-01/", False),
        ("listings/dt=2026-11-01/old/", False),
        ("listings/dt=2026-11-01/a.csv", True),
        ("listings/dt=2026-11-01/stock.xlsx", True),
        ("listings/dt=2026-11-01/.DS_Store", True),
    ],
)
def test_every_key_but_a_folder_marker_is_a_candidate(key, candidate):
    assert is_listing_candidate(key) is candidate


def test_an_oversized_file_rejection_names_the_size_and_the_limit():
    rejected = oversized_file_rejection("listings/dt=2026-11-01/big.csv", 300 * 1024 * 1024)
    assert (rejected.file, rejected.line, rejected.row, rejected.raw) == (
        "listings/dt=2026-11-01/big.csv",
        None,
        {},
        None,
    )
    assert rejected.reason == (
        f"file is 314,572,800 bytes, over the {DEFAULT_MAX_LISTING_FILE_BYTES:,}-byte limit for one listing file "
        "(split the listing into several files); none of its rows were read"
    )


def test_signed_url_queries_never_reach_a_rejection():
    bad_scheme = "ftp://dealer.example/a.jpg?token=s3cr3t"
    lines = [
        jsonl_line(row(VINS[0], images=[{"ref": bad_scheme}], hotspots=[])),  # validation: reason names the ref
        jsonl_line(row(VINS[1], images=[{"ref": SIGNED}])).removesuffix("}"),  # unreadable line: raw text only
        jsonl_line(row(VINS[2], images=[{"ref": SIGNED}], make="")),  # validation: values kept
    ]
    result = validate_listing_files([ListingFile("d.jsonl", jsonl_file(*lines))])
    assert [r.line for r in result.rejected] == [1, 2, 3]
    written = json.dumps([r.to_dict() for r in result.rejected])
    for secret in ("s3cr3t", "deadbeef", "AKIA123"):
        assert secret not in written
    assert "ftp://dealer.example/a.jpg?…" in result.rejected[0].reason
    assert "https://dealer-bucket.s3.amazonaws.com/a.jpg?…" in result.rejected[1].raw
    assert result.rejected[2].row["images"][0]["ref"] == "https://dealer-bucket.s3.amazonaws.com/a.jpg?…"


def test_accepted_listings_keep_their_signed_urls():
    result = validate_listing_files([ListingFile("d.jsonl", jsonl_file(jsonl_line(row(images=[{"ref": SIGNED}]))))])
    assert result.listings[0].images[0].ref == SIGNED


def test_files_can_come_one_at_a_time_from_a_generator():
    def fetched():
        for index, vin in enumerate(VINS[:3]):
            yield ListingFile(f"{index}.jsonl", jsonl_file(jsonl_line(row(vin))))

    assert [listing.vehicle_id for listing in validate_listing_files(fetched()).listings] == VINS[:3]


def test_an_empty_file_warns_and_rejects_nothing():
    result = validate_listing_files([ListingFile("empty.parquet.jsonl", b"")])
    assert (result.accepted, result.rejected, result.warnings) == ([], [], ["empty.parquet.jsonl: no listing rows"])


def test_the_garbage_collector_settings_are_restored():
    before = gc.get_threshold()
    validate_listing_files([ListingFile("d.jsonl", jsonl_file(jsonl_line(row())))])
    assert gc.get_threshold() == before
