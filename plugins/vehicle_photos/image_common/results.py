"""One image's outcome in a run: what both providers' operators produce and the manifest reads. Its status is
a `ResultStatus` (`image_common.statuses`, which says what each one means)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from vehicle_photos.image_common.records import ImageRecord
from vehicle_photos.image_common.statuses import OPERATOR_STATUSES, RecordStatus, ResultStatus

_RESULT_OF_RECORD = {RecordStatus.FINAL: ResultStatus.FINAL, RecordStatus.FAILED: ResultStatus.FAILED}


@dataclass
class ImageResult:
    provider: str
    vehicle_id: str
    name: str
    source: str  # redacted
    status: ResultStatus
    error: str | None = None
    identity: str | None = None
    quality: str | None = None
    angle: str | None = None
    revision: int | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    credits_charged: int = 0  # what the image's record cost in all, over every run
    credits_this_run: int = 0
    reused: bool = False
    attempts: int = 0

    @property
    def key(self) -> tuple[str, str, str]:
        """How the manifest matches a result to a planned image."""
        return self.provider, self.vehicle_id, self.name

    @classmethod
    def from_record(
        cls, record: ImageRecord, vehicle_id: str, name: str, source: str, *, reused: bool, credits_this_run: int = 0
    ) -> ImageResult:
        status = _RESULT_OF_RECORD.get(record.status, ResultStatus.PENDING)
        return cls(
            provider=record.provider, vehicle_id=vehicle_id, name=name, source=source, status=status,
            error=record.last_error if status != ResultStatus.FINAL else None, identity=record.identity,
            quality=record.quality,
            angle="/".join(record.angle) if isinstance(record.angle, list) else record.angle,
            revision=record.revision, outputs=dict(record.outputs), credits_charged=record.credits_charged,
            credits_this_run=credits_this_run, reused=reused, attempts=record.attempts,
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageResult:
        known = {f.name for f in dataclasses.fields(cls)}
        fields = {key: value for key, value in data.items() if key in known}
        return cls(**{**fields, "status": ResultStatus(data["status"])})


def results_jsonl(results: Iterable[ImageResult]) -> bytes:
    return "".join(json.dumps(result.to_dict(), sort_keys=True) + "\n" for result in results).encode()


def parse_results_jsonl(body: bytes) -> list[ImageResult]:
    return [ImageResult.from_dict(json.loads(line)) for line in body.decode().splitlines() if line.strip()]


def summarize(results: Iterable[ImageResult]) -> dict[str, Any]:
    """The small XCom a processing task returns: counts, never the rows."""
    counts: dict[str, int] = {str(status): 0 for status in OPERATOR_STATUSES}
    credits = 0
    reused = 0
    for result in results:
        counts[str(result.status)] = counts.get(result.status, 0) + 1
        credits += result.credits_this_run
        reused += result.reused
    return {"images": sum(counts.values()), **counts, "reused": reused, "credits_this_run": credits}
