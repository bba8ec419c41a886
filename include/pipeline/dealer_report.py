"""The run seen per dealer: one line each in the run report, and one page each beside it
(`reports/dt=<date>/dealers/<dealer>.html`) that a marketplace could send to that dealer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from include.listings.schema import dealer_of_file
from include.pipeline.manifest import ManifestRow
from include.profiles.load import DEFAULT_PROFILE
from vehicle_photos.image_common.results import ImageResult
from vehicle_photos.image_common.statuses import ResultStatus


@dataclass(frozen=True)
class DealerLine:
    dealer: str
    vehicles: int
    images: int
    final: int
    failures: int  # any image not final, with its reason in the manifest
    credits_this_run: int
    rejected_rows: int
    budget: str  # the planner's word: within budget, budget reached, awaiting confirmation...
    images_left: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def dealer_name(dealer_id: str | None) -> str:
    return dealer_id or DEFAULT_PROFILE


def rejected_row_dealer(row: dict[str, Any]) -> str:
    """A rejected row's dealer: its file's folder, else the row's own column, else the default."""
    values = row.get("row") or {}
    return dealer_name(dealer_of_file(row.get("file") or "") or values.get("dealer_id") or None)


def dealer_lines(
    rows: list[ManifestRow],
    results: Iterable[ImageResult],
    planned_dealers: dict[str, dict[str, Any]],
    rejected: list[dict[str, Any]],
) -> list[DealerLine]:
    """One line per dealer of the run (rows, rejected rows or the plan name it), by name."""
    spent: dict[tuple[str, str, str], int] = {}
    for result in results:
        spent[result.key] = spent.get(result.key, 0) + result.credits_this_run
    by_dealer: dict[str, list[ManifestRow]] = {}
    for row in rows:
        by_dealer.setdefault(dealer_name(row.dealer_id), []).append(row)
    rejected_counts: dict[str, int] = {}
    for row in rejected:
        name = rejected_row_dealer(row)
        rejected_counts[name] = rejected_counts.get(name, 0) + 1
    names = sorted(set(by_dealer) | set(rejected_counts) | set(planned_dealers))
    lines = []
    for name in names:
        dealer_rows = by_dealer.get(name, [])
        planned = planned_dealers.get(name, {})
        lines.append(
            DealerLine(
                dealer=name,
                vehicles=len({row.vehicle_id for row in dealer_rows}),
                images=len(dealer_rows),
                final=sum(1 for row in dealer_rows if row.status == ResultStatus.FINAL),
                failures=sum(1 for row in dealer_rows if row.status != ResultStatus.FINAL),
                credits_this_run=sum(spent.get((r.provider, r.vehicle_id, r.name), 0) for r in dealer_rows),
                rejected_rows=rejected_counts.get(name, 0),
                budget=planned.get("state", "invalid profile" if name not in planned_dealers else ""),
                images_left=planned.get("images_left", 0),
            )
        )
    return lines
