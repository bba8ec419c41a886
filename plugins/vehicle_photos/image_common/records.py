"""The durable record of one image under one set of processing options (shared design: "Never bill an image
twice"). It outlives runs, dates, metadata-DB resets and deployments, and it is written BEFORE any billable
call: creating it is the claim.

States:
- `claimed`: the holder (`owner`) may make the billable call; the record already holds what is needed to
  find that call's outcome later (Car-Cutter: the exact submitted URL, sealed; Clipping Magic: the unique
  upload file name, and the image id once known). Whether the call was made is unknown until someone asks.
- `final`: outputs stored; reused by every later run.
- `failed`: billed, and the service said the image cannot be processed; not retried automatically.
A claim whose holder died is resumed by asking the service about the recorded call, never by calling again
blindly; only when the service does not know it, and the claim is the holder's own earlier try or older than
the lease, is it taken over (a conditional overwrite) and the call made. A live holder renews its claim
(`vehicle_photos.image_common.claims`), so the lease can be short and a dead holder's claims free up soon.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vehicle_photos.image_common.statuses import RecordStatus


def options_digest(identity: str, options: dict[str, Any]) -> str:
    """Stable digest of an image identity and the options it is processed with: the record's name, and part
    of every output key, so outputs are immutable per (identity, options)."""
    canonical = json.dumps({"identity": identity, "options": options}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:40]


def output_key(prefix: str, vehicle_id: str, provider: str, name: str, digest: str, extension: str) -> str:
    """`<prefix>/<vehicle_id>/<provider>/<name>-<digest>.<ext>`: immutable per (identity, options), so no run
    overwrites what another run's manifest points at."""
    return f"{prefix.strip('/')}/{vehicle_id}/{provider}/{name}-{digest[:16]}{extension}".lstrip("/")


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class ImageRecord:
    provider: str
    identity: str
    options: dict[str, Any]
    status: RecordStatus
    source: str = ""  # redacted: never a query string
    owner: str | None = None  # the task instance holding the claim: dag/run/task/map_index
    owner_try: int | None = None
    owner_token: str | None = None  # the one process (try, or part of a try around a deferral) holding it
    claimed_at: float | None = None  # epoch seconds by the holder's clock, for people; the lease uses S3's clock
    lease_seconds: float | None = None  # the holder's promise: renewed well within this, else it is dead
    lease_renewals: int = 0  # makes every renewal a new version (a new ETag), so If-Match fences
    submitted_url: str | None = None  # redacted, for people
    sealed_submitted_url: str | None = None  # the exact URL, encrypted (see vehicle_photos.image_common.sealed)
    upload_name: str | None = None
    provider_ref: dict[str, Any] = field(default_factory=dict)
    revision: int | None = None
    quality: str | None = None
    angle: list[str] | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    credits_charged: int = 0
    attempts: int = 0
    last_error: str | None = None
    updated_at: str = field(default_factory=utc_now_iso)

    @property
    def digest(self) -> str:
        return options_digest(self.identity, self.options)

    @property
    def is_final(self) -> bool:
        return self.status == RecordStatus.FINAL

    @property
    def is_settled(self) -> bool:
        """Final or failed: nothing more will happen to it."""
        return self.status in (RecordStatus.FINAL, RecordStatus.FAILED)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), sort_keys=True, indent=1).encode()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageRecord:
        known = {f.name for f in dataclasses.fields(cls)}
        fields = {key: value for key, value in data.items() if key in known}
        return cls(**{**fields, "status": RecordStatus(data["status"])})

    @classmethod
    def from_json(cls, text: str | bytes) -> ImageRecord:
        return cls.from_dict(json.loads(text))

    def touched(self, **changes: Any) -> ImageRecord:
        """A copy with `changes` applied and `updated_at` set to now."""
        return dataclasses.replace(self, **changes, updated_at=utc_now_iso())
