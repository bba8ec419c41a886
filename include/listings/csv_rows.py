"""CSV listings, parsed one physical line at a time.

The first non-blank line is the header. Every record must sit on one physical line: a quoted value may hold
commas and doubled quotes but not a line break, so an unterminated quote costs only its own line instead of
swallowing the lines after it. `images`, `features` and `hotspots` cells are JSON text. Empty cells of schema
columns count as absent; blank lines and lines of empty cells are skipped.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator

from include.listings.jsonl_rows import BadJson, parse_json
from include.listings.lines import text_lines
from include.listings.raw_rows import RawRow
from include.listings.rejections import RejectedRow, rejection
from include.listings.schema import NESTED_FIELDS, TOP_LEVEL_FIELDS


class BadCsvLine(ValueError):
    """A line the csv module cannot split; the message is the reason, for a dealer."""


_CSV_ERRORS = {
    "unexpected end of data": "unterminated quote: a quoted value is not closed on this line "
    "(values spanning several lines are not supported)",
    "',' expected after '\"'": "text after a closing quote: a quoted value must be followed by a comma "
    'or the end of the line (write a quote inside a quoted value as "")',
    "new-line character seen in unquoted field": "a carriage return inside the line "
    "(lines must end with \\n or \\r\\n)",
}


def csv_rows(name: str, content: bytes) -> Iterator[RawRow | RejectedRow]:
    header: list[str] | None = None
    header_line = 0
    for line in text_lines(content):
        if not line.problem and not line.text.strip():
            continue
        try:
            if line.problem:
                raise BadCsvLine(line.problem)
            fields = split_csv_line(line.text)
        except BadCsvLine as error:
            if header is None:
                yield rejection(name, line.number, f"header: {error}; no row of this file was read", raw=line.text)
                return
            yield rejection(name, line.number, str(error), raw=line.text)
            continue
        if header is None:
            header, header_line = [field.strip() for field in fields], line.number
            problem = _header_problem(header, header_line)
            if problem:
                yield rejection(name, line.number, problem, raw=line.text)
                return
            continue
        if not any(field.strip() for field in fields):
            continue
        if len(fields) != len(header):
            yield rejection(name, line.number, _count_mismatch(len(fields), len(header), header_line), raw=line.text)
            continue
        yield _row(name, line.number, line.text, header, fields)


def split_csv_line(text: str) -> list[str]:
    try:
        return next(csv.reader((text,), strict=True))
    except csv.Error as error:
        message = str(error)
        for known, reason in _CSV_ERRORS.items():
            if message.startswith(known):
                raise BadCsvLine(reason) from None
        raise BadCsvLine(f"not valid CSV: {message}") from None


def _row(name: str, number: int, text: str, header: list[str], fields: list[str]) -> RawRow | RejectedRow:
    values = {
        column: value
        for column, value in zip(header, fields, strict=True)
        if value.strip() or column not in TOP_LEVEL_FIELDS
    }
    for column in NESTED_FIELDS:
        if column in values:
            try:
                values[column] = parse_json(values[column])
            except BadJson as error:
                return rejection(name, number, f"{column}: {error} (this column holds JSON text)", values, text)
    return RawRow(name, number, values, text)


def _header_problem(header: list[str], number: int) -> str | None:
    if "vehicle_id" not in header:
        return (
            f"the header (line {number}) has no vehicle_id column: the first line must name the columns, "
            "separated by commas; no row of this file was read"
        )
    duplicates = sorted(column for column, count in Counter(header).items() if column and count > 1)
    if duplicates:
        return f"the header (line {number}) names {', '.join(duplicates)} more than once; no row of this file was read"
    return None


def _count_mismatch(count: int, expected: int, header_line: int) -> str:
    hint = (
        "a stray comma, or a value with a comma that is not in quotes"
        if count > expected
        else "a missing comma, or a line break inside a quoted value (not supported)"
    )
    return f"line has {count} fields but the header (line {header_line}) has {expected}: {hint}"
