"""JSON Lines: a bad line is rejected with its physical line number, raw text and reason; every good line
before and after it is accepted."""

import json

import pytest

from include.listings.jsonl_rows import MAX_JSON_DEPTH
from include.listings.lines import MAX_LINE_BYTES
from include.listings.load import ListingFile
from include.listings.rejections import MAX_RAW_CHARS, TRUNCATED_MARKER
from include.listings.validate import validate_listing_files
from tests.listings.listing_rows import VINS, accepted_lines, jsonl_file, jsonl_line, rejected_by_line, row

GOOD = {VINS[0]: 1, VINS[1]: 3, VINS[2]: 4}
BAD_VIN = VINS[3]


def _bad_line_file(bad: bytes) -> bytes:
    """Line 1 good, 2 the bad line, 3 and 4 good."""
    lines = [
        jsonl_line(row(VINS[0])).encode(),
        bad,
        jsonl_line(row(VINS[1])).encode(),
        jsonl_line(row(VINS[2])).encode(),
    ]
    return b"\n".join(lines) + b"\n"


def _nested(depth: int) -> dict:
    """A row whose unknown `extra` key makes the line `depth` levels deep in all."""
    value: object = "bottom"
    for _ in range(depth - 1):
        value = [value]
    return {**row(BAD_VIN), "extra": value}


BAD_LINES = {
    "truncated object": (jsonl_line(row(BAD_VIN))[:-5], "not valid JSON: "),
    "array": (json.dumps([row(BAD_VIN)]), "line is an array, not a JSON object (one vehicle per line)"),
    "number": ("42", "line is a number, not a JSON object"),
    "string": ('"1HGCM82633A004352"', "line is a string, not a JSON object"),
    "null": ("null", "line is null, not a JSON object"),
    "NaN": (jsonl_line(row(BAD_VIN, colour=float("nan"))), "not valid JSON: NaN is not a JSON value"),
    "nested too deep": (json.dumps(_nested(MAX_JSON_DEPTH + 1)), f"nested more than {MAX_JSON_DEPTH} levels deep"),
    "nested past the recursion limit": ("[" * 100_000 + "]" * 100_000, "nested more than"),
    "invalid VIN": (jsonl_line(row("NOT-A-VIN")), "vehicle_id: not a VIN"),
    "images not a list": (jsonl_line(row(BAD_VIN, images="photos/a.jpg")), "images: Input should be a list"),
    "unknown provider": (
        jsonl_line(row(BAD_VIN, images=[{"ref": "photos/a.jpg", "provider": "photoshop"}], hotspots=[])),
        "images.0.provider: Input should be 'carcutter' or 'clippingmagic'",
    ),
}


@pytest.mark.parametrize(("bad", "reason"), BAD_LINES.values(), ids=BAD_LINES.keys())
def test_a_bad_line_costs_only_itself(bad, reason):
    result = validate_listing_files([ListingFile("dealer.jsonl", _bad_line_file(bad.encode()))])
    assert accepted_lines(result) == GOOD
    (rejected,) = result.rejected
    assert (rejected.file, rejected.line) == ("dealer.jsonl", 2)
    assert rejected.raw == (bad if len(bad) <= MAX_RAW_CHARS else bad[:MAX_RAW_CHARS] + TRUNCATED_MARKER)
    assert reason in rejected.reason


def test_nesting_up_to_the_cap_is_accepted():
    line = json.dumps(_nested(MAX_JSON_DEPTH))
    result = validate_listing_files([ListingFile("dealer.jsonl", _bad_line_file(line.encode()))])
    assert accepted_lines(result) == {**GOOD, BAD_VIN: 2}


@pytest.mark.parametrize(
    ("bad", "raw", "reason"),
    [
        (jsonl_line(row(BAD_VIN, make="Citroën")).encode("latin-1"), "Citro\ufffdn", "not UTF-8 text (byte 0xeb"),
        (jsonl_line(row(BAD_VIN)).encode().replace(b'"Volvo"', b'"Vol\x00vo"'), "Vol\\0vo", "NUL byte"),
        (jsonl_line(row(BAD_VIN, colour="x" * MAX_LINE_BYTES)).encode(), '"colour": "xxx', "-byte limit"),
    ],
    ids=["latin-1 byte", "NUL byte", "over the line cap"],
)
def test_undecodable_binary_and_overlong_lines_are_rejected_alone(bad, raw, reason):
    result = validate_listing_files([ListingFile("dealer.jsonl", _bad_line_file(bad))])
    assert accepted_lines(result) == GOOD
    (rejected,) = result.rejected
    assert rejected.line == 2 and raw in rejected.raw and len(rejected.raw) <= MAX_RAW_CHARS + len(TRUNCATED_MARKER)
    assert reason in rejected.reason


def test_blank_lines_are_skipped_but_counted():
    content = jsonl_file("", jsonl_line(row(VINS[0])), "   ", "", jsonl_line(row(VINS[1])), "\t")
    result = validate_listing_files([ListingFile("dealer.jsonl", content)])
    assert (accepted_lines(result), result.rejected) == ({VINS[0]: 2, VINS[1]: 5}, [])


def test_crlf_and_byte_order_mark():
    content = b"\xef\xbb\xbf" + f"{jsonl_line(row(VINS[0]))}\r\n{jsonl_line(row(VINS[1]))}\r\n".encode()
    result = validate_listing_files([ListingFile("dealer.ndjson", content)])
    assert (accepted_lines(result), result.rejected) == ({VINS[0]: 1, VINS[1]: 2}, [])


def test_unknown_keys_in_every_row_are_ignored_with_exactly_one_warning_per_file():
    def noisy(vin: str) -> str:
        images = [{"ref": "photos/a.jpg", "width": 800}]
        features = [{"title": "Tow bar", "icon": "hook", "type": "text", "colour": "grey"}]
        return jsonl_line({**row(vin, images=images, features=features, hotspots=[]), "price": 1, "dealer": {}})

    first = ListingFile("first.jsonl", jsonl_file(*(noisy(vin) for vin in VINS[:3])))
    second = ListingFile("second.jsonl", jsonl_file(noisy(VINS[3]), jsonl_line(row(VINS[4]))))
    clean = ListingFile("clean.jsonl", jsonl_file(jsonl_line(row(VINS[5]))))
    result = validate_listing_files([first, second, clean])
    assert sorted(listing.vehicle_id for listing in result.listings) == VINS[:6]
    assert result.rejected == []
    names = "'dealer', 'features[].colour', 'images[].width', 'price'"
    assert result.warnings == [
        f"first.jsonl: ignored fields not in the listing schema: {names}",
        f"second.jsonl: ignored fields not in the listing schema: {names}",
    ]


def test_a_null_means_absent():
    line = jsonl_line(row(VINS[0], listing_status=None, colour=None, features=None))
    (listing,) = validate_listing_files([ListingFile("d.jsonl", jsonl_file(line))]).listings
    assert (listing.listing_status, listing.colour, listing.features) == ("active", None, ())


def test_the_warning_names_at_most_twenty_fields():
    line = jsonl_line({**row(VINS[0]), **{f"extra_{i:02d}": i for i in range(25)}})
    (warning,) = validate_listing_files([ListingFile("d.jsonl", jsonl_file(line))]).warnings
    assert warning.endswith("'extra_19' and 5 more")


def test_several_bad_lines_in_a_row_each_get_their_own_rejection():
    content = jsonl_file(jsonl_line(row(VINS[0])), "{", "[1]", "}", jsonl_line(row(VINS[1])))
    result = validate_listing_files([ListingFile("dealer.jsonl", content)])
    assert accepted_lines(result) == {VINS[0]: 1, VINS[1]: 5}
    assert {line: r.raw for line, r in rejected_by_line(result).items()} == {2: "{", 3: "[1]", 4: "}"}
