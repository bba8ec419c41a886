"""What the stand-ins counted: API calls per operation, answered statuses, credits charged, result downloads.

A workload either resets a stand-in before it runs (its counters then are the workload's) or, when it must
see the state an earlier run left (the steady state), takes a snapshot before and after and keeps the
difference. Result downloads (`result_downloads` in Car-Cutter's `/_emulator/requests`, when the stand-in has
it) are read after a reset only; the URLs they name are presigned, so only their path is kept.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

# Operation names of the stand-ins' `/_emulator/requests`, by kind; every other operation is "other".
KINDS = {
    "carcutter": {"submission": ("asyncSubmit",), "status": ("asyncStatus",), "result": ("asyncResult",)},
    "clippingmagic": {"submission": ("upload",), "status": (), "result": ("download",)},
}
REPEATED_EXAMPLES = 5


def service_json(url: str, path: str) -> dict[str, Any]:
    response = requests.get(f"{url}/_emulator/{path}", timeout=30)
    response.raise_for_status()
    return response.json()


def reset_service(url: str) -> None:
    requests.post(f"{url}/_emulator/reset", timeout=30).raise_for_status()


def calls_by_kind(provider: str, counts: dict[str, int]) -> dict[str, int]:
    kinds = Counter({"submission": 0, "status": 0, "result": 0, "other": 0})
    for operation, count in counts.items():
        kind = next((k for k, names in KINDS[provider].items() if operation in names), "other")
        kinds[kind] += count
    return dict(kinds)


@dataclass
class ServiceCounts:
    operations: Counter[str] = field(default_factory=Counter)
    status_codes: Counter[str] = field(default_factory=Counter)
    charges: Counter[str] = field(default_factory=Counter)  # credits per charged image

    @classmethod
    def read(cls, url: str) -> ServiceCounts:
        counters, ledger = service_json(url, "requests"), service_json(url, "ledger")
        return cls(Counter(counters["counts"]), Counter(counters["status_codes"]), Counter(ledger["charges"]))

    def since(self, before: ServiceCounts) -> ServiceCounts:
        return ServiceCounts(
            self.operations - before.operations, self.status_codes - before.status_codes, self.charges - before.charges
        )

    @property
    def calls(self) -> int:
        return sum(self.operations.values())

    @property
    def credits(self) -> int:
        return sum(self.charges.values())


def result_downloads(url: str) -> dict[str, Any] | None:
    """Car-Cutter's per-URL result downloads since the last reset: total, distinct URLs, repeated downloads
    (beyond the first of each URL) and a few of the repeated images by path; None if the stand-in lacks them."""
    downloads = service_json(url, "requests").get("result_downloads")
    if not downloads:
        return None
    repeated = {urlsplit(image_url).path: count for image_url, count in (downloads.get("repeated") or {}).items()}
    return {
        "total": downloads["total"],
        "distinct_urls": downloads["distinct_urls"],
        "repeated": downloads["total"] - downloads["distinct_urls"],
        "repeated_examples": dict(sorted(repeated.items(), key=lambda item: -item[1])[:REPEATED_EXAMPLES]),
    }
