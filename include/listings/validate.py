"""Validating listing rows: every row ends up valid or rejected with its file, line and reason.

Duplicate rule: a vehicle listed more than once on a date is taken from the latest file (files are
given oldest first) and, within a file, from its last line; every other occurrence is rejected as
"superseded" with a pointer to the row that won. Nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from include.listings.load import ListingFile, RawRow, read_listing_file
from include.listings.schema import VehicleListing


@dataclass(frozen=True)
class RejectedRow:
    file: str
    line: int | None
    reason: str
    row: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "reason": self.reason, "row": self.row}


@dataclass(frozen=True)
class AcceptedListing:
    file: str
    line: int
    listing: VehicleListing


@dataclass
class ValidationResult:
    accepted: list[AcceptedListing] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def listings(self) -> list[VehicleListing]:
        return [item.listing for item in self.accepted]


def describe_validation_error(error: ValidationError) -> str:
    parts = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "row"
        parts.append(f"{where}: {problem['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def validate_rows(rows: list[RawRow]) -> ValidationResult:
    result = ValidationResult()
    winners: dict[str, AcceptedListing] = {}
    for row in rows:
        try:
            listing = VehicleListing.model_validate(row.values)
        except ValidationError as error:
            result.rejected.append(RejectedRow(row.file, row.line, describe_validation_error(error), row.values))
            continue
        previous = winners.get(listing.vehicle_id)
        if previous is not None:
            result.rejected.append(
                RejectedRow(
                    previous.file,
                    previous.line,
                    f"duplicate vehicle_id {listing.vehicle_id}: superseded by {row.file} line {row.line}",
                    previous.listing.model_dump(mode="json"),
                )
            )
        winners[listing.vehicle_id] = AcceptedListing(row.file, row.line, listing)
    result.accepted = sorted(winners.values(), key=lambda item: item.listing.vehicle_id)
    return result


def validate_listing_files(files: list[ListingFile]) -> ValidationResult:
    """Files oldest first. A file that cannot be read at all is rejected as a whole, naming the file."""
    rows: list[RawRow] = []
    unreadable: list[RejectedRow] = []
    for listing_file in files:
        try:
            rows.extend(read_listing_file(listing_file))
        except Exception as error:  # any parse failure rejects the file, with its reason
            unreadable.append(RejectedRow(listing_file.name, None, f"unreadable listing file: {error}", {}))
    result = validate_rows(rows)
    result.rejected[:0] = unreadable
    return result
