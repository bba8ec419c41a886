"""Validating listing files: every line ends up accepted or rejected with its file, line, raw text and reason.

A bad line costs only itself. Fields the schema does not name are ignored, with one warning per file. A null
(or an empty CSV cell) in a schema field means the field is absent, so its default applies.

Duplicate rule: a vehicle listed more than once on a date is taken from the latest file (files are given
oldest first) and, within a file, from its last line; every other occurrence is rejected as "superseded"
with a pointer to the row that won. Nothing is dropped silently.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pydantic import ValidationError

from include.listings.load import ListingFile, read_listing_file
from include.listings.raw_rows import RawRow
from include.listings.rejections import RejectedRow, file_rejection, rejection
from include.listings.schema import DEALER_ID_PATTERN, VehicleListing, dealer_of_file, unknown_keys

__all__ = ["AcceptedListing", "RejectedRow", "ValidationResult", "validate_listing_files"]

_GC_ALLOCATIONS_WHILE_VALIDATING = 100_000
_MAX_NAMES_IN_WARNING = 20
_MAX_NAME_CHARS = 60


@dataclass(frozen=True)
class AcceptedListing:
    file: str
    line: int
    listing: VehicleListing


@dataclass
class ValidationResult:
    accepted: list[AcceptedListing] = field(default_factory=list)  # one per vehicle, by vehicle_id
    rejected: list[RejectedRow] = field(default_factory=list)  # in file order, then line order
    warnings: list[str] = field(default_factory=list)  # at most one per file for ignored fields

    @property
    def listings(self) -> list[VehicleListing]:
        return [item.listing for item in self.accepted]


def validate_listing_files(files: Iterable[ListingFile]) -> ValidationResult:
    """Files oldest first. Each file is read as it comes, so a generator that fetches one file at a time
    keeps one file in memory, never all of them."""
    with _rarer_garbage_collection():
        return _validate_in_order(files)


def _validate_in_order(files: Iterable[ListingFile]) -> ValidationResult:
    winners: dict[str, tuple[int, AcceptedListing]] = {}
    rejected: list[tuple[int, RejectedRow]] = []
    warnings: list[str] = []
    for position, listing_file in enumerate(files):
        ignored: set[str] = set()
        rows = 0
        folder_dealer = dealer_of_file(listing_file.name)
        if folder_dealer is not None and not DEALER_ID_PATTERN.match(folder_dealer):
            rejected.append((position, file_rejection(listing_file.name, f"not a dealer id: dealer={folder_dealer!r}")))
            continue
        for item in read_listing_file(listing_file):
            rows += 1
            if isinstance(item, RawRow):
                ignored |= unknown_keys(item.values)
                item = _validate(item, folder_dealer)
            if isinstance(item, RejectedRow):
                rejected.append((position, item))
                continue
            previous = winners.get(item.listing.vehicle_id)
            if previous is not None:
                rejected.append((previous[0], _superseded(previous[1], item)))
            winners[item.listing.vehicle_id] = (position, item)
        if ignored:
            warnings.append(_ignored_fields_warning(listing_file.name, ignored))
        if not rows:
            warnings.append(f"{listing_file.name}: no listing rows")
    rejected.sort(key=lambda pair: (pair[0], pair[1].line or 0))
    return ValidationResult(
        accepted=sorted((accepted for _, accepted in winners.values()), key=lambda item: item.listing.vehicle_id),
        rejected=[row for _, row in rejected],
        warnings=warnings,
    )


@contextmanager
def _rarer_garbage_collection() -> Iterator[None]:
    """Tens of thousands of validated models kept alive make the cyclic garbage collector's passes cost more
    than the validation itself (50,000 rows: 9 s instead of 5); collect less often meanwhile, then restore."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], _GC_ALLOCATIONS_WHILE_VALIDATING), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def describe_validation_error(error: ValidationError) -> str:
    parts = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "row"
        message = problem["msg"].removeprefix("Value error, ").replace("a valid tuple", "a list")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def _validate(row: RawRow, folder_dealer: str | None = None) -> AcceptedListing | RejectedRow:
    present = {key: value for key, value in row.values.items() if value is not None}
    try:
        listing = VehicleListing.model_validate(present)
    except ValidationError as error:
        return rejection(row.file, row.line, describe_validation_error(error), row.values, row.raw)
    if folder_dealer is not None and listing.dealer_id not in (None, folder_dealer):
        reason = f"dealer_id {listing.dealer_id!r} differs from the file's folder dealer={folder_dealer}, which decides"
        return rejection(row.file, row.line, reason, row.values, row.raw)
    if folder_dealer is not None:
        listing = listing.model_copy(update={"dealer_id": folder_dealer})
    return AcceptedListing(row.file, row.line, listing)


def _superseded(loser: AcceptedListing, winner: AcceptedListing) -> RejectedRow:
    where = "row" if winner.file.lower().endswith(".parquet") else "line"
    reason = f"duplicate vehicle_id {loser.listing.vehicle_id}: superseded by {winner.file} {where} {winner.line}"
    return rejection(loser.file, loser.line, reason, loser.listing.model_dump(mode="json"))


def _ignored_fields_warning(file: str, names: set[str]) -> str:
    shown = [_short(name) for name in sorted(names)[:_MAX_NAMES_IN_WARNING]]
    more = len(names) - len(shown)
    listed = ", ".join(shown) + (f" and {more} more" if more else "")
    return f"{file}: ignored fields not in the listing schema: {listed}"


def _short(name: str) -> str:
    return repr(name) if len(name) <= _MAX_NAME_CHARS else repr(name[:_MAX_NAME_CHARS]) + "…"
