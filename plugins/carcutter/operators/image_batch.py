"""The state of one process-images batch: each distinct image, what it is waiting for, and its record.

A batch is plain JSON (`to_dict` / `from_dict`), kept in S3 while the task is deferred. Images are keyed
by identity: the same picture listed twice is processed once.

A failure is recorded only when it was billed: an image Car-Cutter processed into `error` (or whose
result is gone after two submissions) gets an "error" record and is not sent again by later runs (a new
version of the source has a new identity); a failure that cost nothing (refused request, no credits,
unreadable source) leaves no record, so the next run simply tries again.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from carcutter.hooks.images import EXPIRED, FINAL, ImageStatus, redact_url
from image_records import ImageRecord

PROVIDER = "carcutter"

# What happens next to an image.
NEW = "new"  # to submit
RESUBMIT = "resubmit"  # the result expired: submit once more
WAITING = "waiting"  # submitted, not finished
READY = "ready"  # finished: download the result
DONE = "done"  # result stored in S3
FAILED = "failed"  # gave up in this run (the error says why)
TIMED_OUT = "timed_out"  # still processing when the wait ended

RECORD_FINAL, RECORD_SUBMITTED, RECORD_ERROR = "final", "submitted", "error"

MAX_ATTEMPTS = 2  # an expired result is submitted once more, never a third time


@dataclass
class BatchImage:
    source: str
    vehicle_id: str
    name: str | None
    identity: str
    state: str = NEW
    submitted_url: str | None = None
    submitted_at: float = 0.0  # epoch seconds; the trigger asks about the earliest submissions first
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
    record_as: str | None = None  # for a failure: the record status to write ("submitted", "error") or none

    @classmethod
    def from_record(
        cls, source: str, vehicle_id: str, name: str | None, identity: str, record: ImageRecord | None
    ) -> BatchImage:
        """What to do with an image given its record: reuse, resume or submit."""
        image = cls(source=source, vehicle_id=vehicle_id, name=name, identity=identity)
        if record is None:
            return image
        image.attempts, image.credits_charged = record.attempts, record.credits_charged
        image.provider_ref = dict(record.provider_ref)
        image.phase, image.angle, image.quality = record.phase, record.angle, record.quality
        if record.is_final and record.outputs:
            image.state, image.status, image.reused, image.outputs = DONE, FINAL, True, dict(record.outputs)
        elif record.is_submitted and record.submitted_url:
            image.state, image.submitted_url = WAITING, record.submitted_url
        elif record.status == RECORD_ERROR:
            image.state, image.status, image.reused = FAILED, RECORD_ERROR, True
            image.error, image.record_as = record.last_error, RECORD_ERROR
        return image

    def apply_status(self, status: ImageStatus) -> None:
        """A finished status moves the image on: final -> download, expired -> submit again, error -> failed."""
        self.status, self.phase, self.angle, self.quality = status.status, status.phase, status.angle, status.quality
        self.provider_ref.update({key: value for key, value in status.details.items() if key.endswith("id")})
        if not status.finished:
            return
        if status.status == FINAL:
            self.state = READY
        elif status.status == EXPIRED:
            self.expired()
        else:
            self.fail(f"Car-Cutter reported status {status.status!r} in phase {status.phase!r}")

    def expired(self) -> None:
        if self.attempts < MAX_ATTEMPTS:
            self.state, self.error = RESUBMIT, None
        else:
            self.fail(f"the result is gone (expired or unknown to Car-Cutter) after {self.attempts} submissions")

    def submitted(self, url: str) -> None:
        self.state, self.submitted_url, self.error = WAITING, url, None
        self.submitted_at = time.time()
        self.attempts += 1
        self.credits_charged += 1
        self.credits_this_run += 1

    def fail(self, error: str, record_as: str | None = RECORD_ERROR) -> None:
        """`record_as`: "error" (billed, final), "submitted" (a later run resumes it) or None (nothing billed)."""
        self.state, self.error, self.record_as = FAILED, error, record_as

    @property
    def recordable(self) -> bool:
        return self.state != FAILED or self.record_as is not None

    def record(self, options: dict[str, Any]) -> ImageRecord:
        if self.state == DONE:
            status = RECORD_FINAL
        elif self.state in (WAITING, READY, TIMED_OUT):
            status = RECORD_SUBMITTED
        else:
            status = self.record_as or RECORD_ERROR
        return ImageRecord(
            provider=PROVIDER, identity=self.identity, options=options, status=status, source=self.source,
            submitted_url=self.submitted_url, provider_ref=self.provider_ref, quality=self.quality, angle=self.angle,
            phase=self.phase, outputs=self.outputs, credits_charged=self.credits_charged, attempts=self.attempts,
            last_error=self.error,
        )  # fmt: skip

    def summary(self, source: str, vehicle_id: str) -> dict[str, Any]:
        """The XCom row for one input image: no presigned query strings, no tokens."""
        outcome = {DONE: "final", TIMED_OUT: "timed_out"}.get(self.state, "error")
        return {
            "source": redact_url(source),
            "vehicle_id": vehicle_id,
            "identity": redact_url(self.identity),
            "status": outcome,
            "phase": self.phase,
            "angle": self.angle,
            "quality": self.quality,
            "attempts": self.attempts,
            "credits_charged": self.credits_charged,
            "credits_this_run": self.credits_this_run,
            "credits_total": self.credits_charged,
            "outputs": self.outputs,
            "error": self.error,
            "reused": self.reused,
        }


@dataclass
class Batch:
    """`images` holds one entry per distinct identity; `inputs` maps every input image to its identity."""

    images: dict[str, BatchImage]
    inputs: list[tuple[str, str, str]]  # (source, vehicle_id, identity)
    credits_exhausted: bool = False

    def in_state(self, *states: str) -> list[BatchImage]:
        return [image for image in self.images.values() if image.state in states]

    def to_dict(self) -> dict[str, Any]:
        return {
            "images": [dataclasses.asdict(image) for image in self.images.values()],
            "inputs": [list(entry) for entry in self.inputs],
            "credits_exhausted": self.credits_exhausted,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Batch:
        images = [BatchImage(**entry) for entry in data["images"]]
        return cls(
            images={image.identity: image for image in images},
            inputs=[tuple(entry) for entry in data["inputs"]],
            credits_exhausted=data["credits_exhausted"],
        )

    def summaries(self) -> list[dict[str, Any]]:
        return [self.images[identity].summary(source, vehicle_id) for source, vehicle_id, identity in self.inputs]
