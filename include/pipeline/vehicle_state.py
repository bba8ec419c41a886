"""What the pipeline last applied to Car-Cutter for each vehicle, so an unchanged vehicle costs no API call.

Four aspects are tracked per vehicle: `register` (its fields), `features`, `hotspots` (its images'
annotations) and `deleted` (a sold / removed vehicle's removal). Each is a digest of what the listing asked
for. A run plans an aspect only when its digest differs from the one applied last, and `publish_run` records
the digests of the aspects whose tasks succeeded. The same index keeps each dealer's last processing profile
(aspect `profile`, the dealer's name in place of the vehicle: `include.pipeline.dealer_credits`). The listing is
the source of truth: a change made to Car-Cutter by hand is corrected the next time the listing changes that aspect.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from vehicle_photos.image_common.segmented_index import SegmentedIndex

ASPECTS = ("register", "features", "hotspots", "deleted")


def digest_of(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


class AppliedVehicleState:
    """`<records prefix>/_index/vehicles/`: entries `{"aspect", "vehicle_id", "digest"}`."""

    def __init__(self, s3_client: Any, bucket: str, records_prefix: str) -> None:
        self.index = SegmentedIndex(s3_client, bucket, f"{records_prefix.strip('/')}/_index/vehicles/", key_of=_key_of)

    def load(self) -> dict[tuple[str, str], str]:
        """(aspect, vehicle_id) -> digest applied last."""
        return {(entry["aspect"], entry["vehicle_id"]): entry["digest"] for entry in self.index.load().values()}

    def record(self, applied: Iterable[dict[str, str]]) -> None:
        self.index.append(applied)

    def compact(self) -> bool:
        return self.index.compact()


def _key_of(entry: dict[str, Any]) -> str:
    return f"{entry['aspect']}:{entry['vehicle_id']}"
