"""Who holds a claim, and when a claim may be taken over.

A claim belongs to a task instance (dag / run / task / map index); a later try of the same task instance is
the same holder, so a retry after a crash resumes its own claims at once. Anyone else waits for the claim's
outcome and takes it over only once the service does not know the claimed call and the claim is older than
the lease: longer than any holder can take between writing its claim and its last attempt at the call.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from vehicle_photos.image_common.records import ImageRecord

DEFAULT_CLAIM_LEASE_SECONDS = 30 * 60


@dataclass(frozen=True)
class ClaimHolder:
    key: str
    try_number: int = 1

    @classmethod
    def of(cls, context: Any) -> ClaimHolder:
        """The task instance running now; outside a task (scripts, tests of a hook), a one-off holder."""
        ti = (context or {}).get("ti")
        if ti is None:
            return cls(f"adhoc/{uuid.uuid4().hex}")
        return cls(f"{ti.dag_id}/{ti.run_id}/{ti.task_id}/{ti.map_index}", int(ti.try_number or 1))

    def owns(self, record: ImageRecord) -> bool:
        return record.owner == self.key

    def may_take_over(self, record: ImageRecord, lease_seconds: float, now: float | None = None) -> bool:
        """Only asked once the service does not know the claimed call."""
        return self.owns(record) or record.claim_is_stale(lease_seconds, now)

    def stamp(self) -> dict[str, Any]:
        """The fields a claim written by this holder carries."""
        return {"owner": self.key, "owner_try": self.try_number, "claimed_at": time.time()}
