"""The state of one process-images batch: each distinct image, where it stands, and the claim it rests on.

A batch is plain JSON (`to_dict` / `from_dict`) kept in S3 while the task is deferred; exact submitted URLs
are in it only sealed (`image_common.sealed`). Images are keyed by the digest of (identity, options): the same
picture listed twice, for two vehicles, is processed once and both inputs get its outcome.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from vehicle_photos.carcutter.utils.statuses import ApiStatus, ImageStatus
from vehicle_photos.image_common.records import ImageRecord
from vehicle_photos.image_common.results import ImageResult
from vehicle_photos.image_common.sealed import UNOPENABLE_REASON, opens
from vehicle_photos.image_common.statuses import BatchState, RecordStatus, ResultStatus

MAX_SUBMISSIONS = 2  # an expired result is submitted once more, never a third time


@dataclass
class BatchImage:
    source: str  # the exact source (an http source may carry a query string): batch state only, never shown
    shown_source: str  # redacted
    vehicle_id: str
    name: str
    identity: str
    digest: str
    source_version: str | None = None  # the S3 version to send, in a versioned bucket (else a copy is sent)
    state: BatchState = BatchState.NEW
    mine: bool = False  # we hold the claim (this task instance, this try or an earlier one)
    record_etag: str | None = None  # the record version last written or read by us
    sealed_url: str | None = None  # the exact URL being tracked, sealed
    shown_url: str | None = None  # redacted
    submitted_at: float = 0.0
    takeover_at: float = 0.0  # when an unknown-to-Car-Cutter claim may be taken over
    resumed: bool = False  # a claim found in place: ask Car-Cutter about it before waiting
    # A claim found in place is written before its POST, so its record does not count the submission yet:
    # once Car-Cutter knows the URL, it was billed (for this run too when the claim is this task's).
    charge_unconfirmed: bool = False
    status: str | None = None
    phase: str | None = None
    angle: list[str] | None = None
    quality: str | None = None
    provider_ref: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    credits_charged: int = 0
    credits_this_run: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    reused: bool = False
    not_sent_as: ResultStatus = ResultStatus.REFUSED  # of a NOT_SENT image: refused (bad input) or skipped

    def follow(self, record: ImageRecord, etag: str, mine: bool, takeover_at: float) -> None:
        """Take what an existing record says: reuse a settled one, otherwise track its claimed call."""
        self.record_etag, self.mine, self.takeover_at = etag, mine, takeover_at
        self.charge_unconfirmed = False
        self.attempts, self.credits_charged = record.attempts, record.credits_charged
        self.provider_ref, self.angle, self.quality = dict(record.provider_ref), record.angle, record.quality
        if record.is_final:
            self.state, self.status = BatchState.DONE, ApiStatus.FINAL
            self.reused, self.outputs = True, dict(record.outputs)
        elif record.status == RecordStatus.FAILED:
            self.state, self.reused, self.error = BatchState.BILLED_FAILURE, True, record.last_error
        else:  # a claim: ask Car-Cutter about its URL (one without a URL can only be taken over)
            self.state = BatchState.WAITING
            self.sealed_url, self.shown_url = record.sealed_submitted_url, record.submitted_url
            self.submitted_at, self.resumed = record.claimed_at or time.time(), True
            self.charge_unconfirmed = bool(record.sealed_submitted_url)
            if record.sealed_submitted_url and not opens(record.sealed_submitted_url):
                self.state, self.resumed, self.error = BatchState.UNOPENABLE, False, UNOPENABLE_REASON

    def apply_status(self, status: ImageStatus) -> None:
        """A finished status moves the image on: final -> store the result, expired -> submit again, error ->
        a billed failure. Anything else leaves it waiting. Only called with statuses Car-Cutter knows."""
        if self.charge_unconfirmed:
            self.charge_unconfirmed = False
            self.credits_charged += 1
            self.credits_this_run += 1 if self.mine else 0
        self.status, self.phase, self.angle, self.quality = status.status, status.phase, status.angle, status.quality
        self.provider_ref.update({key: value for key, value in status.details.items() if key.endswith("id")})
        if not status.finished:
            return
        if status.status == ApiStatus.FINAL:
            self.state = BatchState.READY
        elif status.status == ApiStatus.EXPIRED:
            self.expired()
        else:
            self.state = BatchState.BILLED_FAILURE
            self.error = f"Car-Cutter reported status {status.status!r} in phase {status.phase!r}"

    def expired(self) -> None:
        """The result is gone: submit once more (billed again), or give up after `MAX_SUBMISSIONS`."""
        if self.attempts < MAX_SUBMISSIONS:
            self.state, self.error, self.takeover_at = BatchState.NEW, None, 0.0
        else:
            self.state = BatchState.BILLED_FAILURE
            self.error = f"the result is gone (expired) after {self.attempts} submissions"

    def submitted(self) -> None:
        self.state, self.error, self.submitted_at = BatchState.WAITING, None, time.time()
        self.credits_charged += 1
        self.credits_this_run += 1

    def not_sent(self, reason: str, as_status: ResultStatus = ResultStatus.REFUSED) -> None:
        self.state, self.error, self.not_sent_as = BatchState.NOT_SENT, reason, as_status

    def record(self, status: RecordStatus, options: dict[str, Any], **changes: Any) -> ImageRecord:
        return ImageRecord(
            provider="carcutter", identity=self.identity, options=options, status=status, source=self.shown_source,
            submitted_url=self.shown_url, sealed_submitted_url=self.sealed_url, provider_ref=self.provider_ref,
            quality=self.quality, angle=self.angle, outputs=self.outputs, credits_charged=self.credits_charged,
            attempts=self.attempts, last_error=self.error, **changes,
        )  # fmt: skip

    def final_record(self, options: dict[str, Any]) -> ImageRecord:
        return self.record(RecordStatus.FINAL, options)

    def result_for(self, vehicle_id: str, name: str, shown_source: str) -> ImageResult:
        status = {
            BatchState.DONE: ResultStatus.FINAL, BatchState.BILLED_FAILURE: ResultStatus.FAILED,
            BatchState.UNOPENABLE: ResultStatus.FAILED, BatchState.NOT_SENT: self.not_sent_as,
            BatchState.TIMED_OUT: ResultStatus.PENDING,
        }.get(self.state, ResultStatus.PENDING)  # fmt: skip
        return ImageResult(
            provider="carcutter", vehicle_id=vehicle_id, name=name, source=shown_source, status=status,
            error=None if status == ResultStatus.FINAL else self.error, identity=self.identity,
            quality=self.quality, angle="/".join(self.angle) if self.angle else None,
            outputs=dict(self.outputs) if status == ResultStatus.FINAL else {}, credits_charged=self.credits_charged,
            credits_this_run=self.credits_this_run, reused=self.reused, attempts=self.attempts,
        )  # fmt: skip


@dataclass
class Batch:
    """`images` holds one entry per distinct digest; `inputs` maps every input image to its digest."""

    images: dict[str, BatchImage]
    inputs: list[tuple[str, str, str, str]]  # (vehicle_id, name, shown source, digest)
    refused: list[ImageResult] = field(default_factory=list)  # inputs refused before they had a digest
    credits_exhausted: bool = False
    deadline: float = 0.0  # epoch seconds: the end of the whole wait

    def in_state(self, *states: BatchState) -> list[BatchImage]:
        return [image for image in self.images.values() if image.state in states]

    def results(self) -> list[ImageResult]:
        rows = [self.images[digest].result_for(vehicle, name, shown) for vehicle, name, shown, digest in self.inputs]
        return self.refused + rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "images": [dataclasses.asdict(image) for image in self.images.values()],
            "inputs": [list(entry) for entry in self.inputs],
            "refused": [result.to_dict() for result in self.refused],
            "credits_exhausted": self.credits_exhausted,
            "deadline": self.deadline,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Batch:
        images = [BatchImage(**entry) for entry in data["images"]]
        return cls(
            images={image.digest: image for image in images},
            inputs=[tuple(entry) for entry in data["inputs"]],
            refused=[ImageResult.from_dict(entry) for entry in data["refused"]],
            credits_exhausted=data["credits_exhausted"],
            deadline=data["deadline"],
        )
