"""CSV: a bad line is rejected with its physical line number (header = line 1), raw text and reason; every
good line before and after it is accepted."""

import pytest

from include.listings.lines import MAX_LINE_BYTES
from include.listings.load import ListingFile
from include.listings.rejections import MAX_RAW_CHARS, TRUNCATED_MARKER
from include.listings.validate import validate_listing_files
from tests.listings.listing_rows import (
    COLUMNS,
    VINS,
    accepted_lines,
    csv_file,
    csv_header,
    csv_line,
    rejected_by_line,
    row,
)

GOOD = {VINS[0]: 2, VINS[1]: 4, VINS[2]: 5}
BAD_VIN = VINS[3]


def _good_line(vin: str) -> bytes:
    return csv_line(row(vin)).encode()


def _bad_line_file(bad: bytes) -> bytes:
    """Line 1 header, 2 good, 3 the bad line, 4 and 5 good."""
    lines = [csv_header().encode(), _good_line(VINS[0]), bad, _good_line(VINS[1]), _good_line(VINS[2])]
    return b"\n".join(lines) + b"\n"


def _replaced(old: str, new: str) -> str:
    line = csv_line(row(BAD_VIN))
    assert old in line
    return line.replace(old, new, 1)


LONG_COLOUR = "x" * (MAX_LINE_BYTES + 1)

BAD_LINES = {
    "extra field": (csv_line(row(BAD_VIN)) + ",surplus", "line has 9 fields but the header (line 1) has 8"),
    "missing field": (csv_line(row(BAD_VIN), COLUMNS[:-1]), "line has 7 fields but the header (line 1) has 8"),
    "unterminated quote": (csv_line(row(BAD_VIN)).removesuffix('"'), "unterminated quote"),
    "quote opened mid-line": (_replaced(",Volvo,", ',"Volvo,'), "text after a closing quote"),
    "text after closing quote": (_replaced(",Volvo,", ',"Volvo"s,'), "text after a closing quote"),
    "carriage return": (_replaced("Volvo", "Vol\rvo"), "carriage return inside the line"),
    "images not JSON": (_replaced('""}]', '""]'), "images: not valid JSON"),
    "invalid VIN": (csv_line(row("NOT-A-VIN")), "vehicle_id: not a VIN"),
    "ftp image": (_replaced("photos/a.jpg", "ftp://example.com/a.jpg"), "images.0.ref: image ref scheme 'ftp'"),
}


@pytest.mark.parametrize(("bad", "reason"), BAD_LINES.values(), ids=BAD_LINES.keys())
def test_a_bad_line_costs_only_itself(bad, reason):
    result = validate_listing_files([ListingFile("dealer.csv", _bad_line_file(bad.encode()))])
    assert accepted_lines(result) == GOOD
    (rejected,) = result.rejected
    assert (rejected.file, rejected.line, rejected.raw) == ("dealer.csv", 3, bad)
    assert reason in rejected.reason


def test_values_are_kept_when_the_line_could_be_split():
    result = validate_listing_files([ListingFile("d.csv", _bad_line_file(csv_line(row("NOT-A-VIN")).encode()))])
    assert result.rejected[0].row["vehicle_id"] == "NOT-A-VIN"
    assert result.rejected[0].row["images"][0]["ref"] == "photos/a.jpg"


@pytest.mark.parametrize(
    ("bad", "raw", "reason"),
    [
        (_replaced("Volvo", "Citroën").encode("latin-1"), _replaced("Volvo", "Citro\ufffdn"), "not UTF-8 text"),
        (_replaced("Volvo", "Vol\x00vo").encode(), _replaced("Volvo", "Vol\\0vo"), "NUL byte"),
    ],
    ids=["latin-1 byte", "NUL byte"],
)
def test_undecodable_and_binary_lines_are_rejected_alone(bad, raw, reason):
    result = validate_listing_files([ListingFile("dealer.csv", _bad_line_file(bad))])
    assert accepted_lines(result) == GOOD
    (rejected,) = result.rejected
    assert (rejected.line, rejected.raw) == (3, raw)
    assert reason in rejected.reason


def test_an_overlong_line_is_rejected_with_a_capped_raw_text():
    bad = csv_line(row(BAD_VIN, colour=LONG_COLOUR))
    result = validate_listing_files([ListingFile("dealer.csv", _bad_line_file(bad.encode()))])
    assert accepted_lines(result) == GOOD
    (rejected,) = result.rejected
    assert rejected.line == 3 and f"over the {MAX_LINE_BYTES:,}-byte limit" in rejected.reason
    assert rejected.raw == bad[:MAX_RAW_CHARS] + TRUNCATED_MARKER


def test_a_value_spanning_two_lines_rejects_both_and_nothing_else():
    spanning = csv_line(row(BAD_VIN, colour="dark\nblue"))
    first, second = spanning.split("\n")
    content = csv_file(csv_header(), csv_line(row(VINS[0])), spanning, csv_line(row(VINS[1])))
    result = validate_listing_files([ListingFile("dealer.csv", content)])
    assert accepted_lines(result) == {VINS[0]: 2, VINS[1]: 5}
    rejected = rejected_by_line(result)
    assert set(rejected) == {3, 4}
    assert rejected[3].raw == first and "unterminated quote" in rejected[3].reason
    assert rejected[4].raw == second and "line has 5 fields but the header (line 1) has 8" in rejected[4].reason


def test_crlf_line_endings_and_a_byte_order_mark_are_read():
    content = b"\xef\xbb\xbf" + csv_file(csv_header(), csv_line(row(VINS[0])), csv_line(row(VINS[1])), newline="\r\n")
    result = validate_listing_files([ListingFile("excel.csv", content)])
    assert (accepted_lines(result), result.rejected, result.warnings) == ({VINS[0]: 2, VINS[1]: 3}, [], [])


def test_blank_lines_are_skipped_but_counted():
    content = csv_file("", csv_header(), csv_line(row(VINS[0])), "", ",,,,,,,", "   ", csv_line(row(VINS[1])))
    result = validate_listing_files([ListingFile("dealer.csv", content)])
    assert accepted_lines(result) == {VINS[0]: 3, VINS[1]: 7}
    assert result.rejected == []


def test_empty_cells_are_absent_so_defaults_apply():
    line = csv_line(row(VINS[0], colour=None, listing_status=None, features=[], hotspots=[]))
    result = validate_listing_files([ListingFile("dealer.csv", csv_file(csv_header(), line))])
    (listing,) = result.listings
    assert (listing.colour, listing.listing_status, listing.features) == (None, "active", ())


def test_unknown_columns_and_keys_are_ignored_with_one_warning():
    columns = (*COLUMNS, "price", "dealer_ref")
    noisy = {"images": [{"ref": "photos/a.jpg", "watermark": True}], "price": "1", "dealer_ref": "x"}
    lines = [csv_line({**row(vin), **noisy}, columns) for vin in VINS[:3]]
    result = validate_listing_files([ListingFile("dealer.csv", csv_file(csv_header(columns), *lines))])
    assert accepted_lines(result) == {VINS[0]: 2, VINS[1]: 3, VINS[2]: 4}
    assert result.rejected == []
    assert result.warnings == [
        "dealer.csv: ignored fields not in the listing schema: 'dealer_ref', 'images[].watermark', 'price'"
    ]


def test_an_unknown_column_that_is_always_empty_still_warns():
    columns = (*COLUMNS, "notes")
    content = csv_file(csv_header(columns), csv_line({**row(VINS[0]), "notes": ""}, columns))
    result = validate_listing_files([ListingFile("dealer.csv", content)])
    assert len(result.listings) == 1 and result.warnings == [
        "dealer.csv: ignored fields not in the listing schema: 'notes'"
    ]


def test_known_fields_stay_strict_beside_unknown_ones():
    columns = (*COLUMNS, "price")
    line = csv_line({**row(VINS[0], listing_status="for sale"), "price": "1"}, columns)
    result = validate_listing_files([ListingFile("dealer.csv", csv_file(csv_header(columns), line))])
    (rejected,) = result.rejected
    assert rejected.line == 2 and "listing_status: Input should be 'active', 'sold' or 'removed'" in rejected.reason


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (";".join(COLUMNS), "the header (line 1) has no vehicle_id column"),
        (csv_header((*COLUMNS, "make")), "the header (line 1) names make more than once"),
        ('vehicle_id,"make', "header: unterminated quote"),
    ],
    ids=["semicolons", "duplicate column", "broken quote"],
)
def test_a_bad_header_rejects_the_file_once_at_line_1(header, reason):
    content = csv_file(header, csv_line(row(VINS[0])), csv_line(row(VINS[1])))
    result = validate_listing_files([ListingFile("dealer.csv", content)])
    assert result.listings == []
    (rejected,) = result.rejected
    assert (rejected.line, rejected.raw) == (1, header)
    assert reason in rejected.reason and "no row of this file was read" in rejected.reason


def test_a_file_with_only_a_header_warns_that_it_has_no_rows():
    result = validate_listing_files([ListingFile("dealer.csv", csv_file(csv_header()))])
    assert (result.accepted, result.rejected) == ([], [])
    assert result.warnings == ["dealer.csv: no listing rows"]
