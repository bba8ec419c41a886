"""The image record itself: what was sent, what came back, where the outputs are, what it cost."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SUBMITTED = "submitted"
FINAL = "final"
ERROR = "error"


def options_digest(identity: str, options: dict[str, Any]) -> str:
    """Stable digest of an image identity and the options it was processed with."""
    canonical = json.dumps({"identity": identity, "options": options}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:40]


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class ImageRecord:
    provider: str
    identity: str
    options: dict[str, Any]
    status: str
    source: str = ""
    submitted_url: str | None = None
    provider_ref: dict[str, Any] = field(default_factory=dict)
    revision: int | None = None
    quality: str | None = None
    angle: list[str] | None = None
    phase: str | None = None
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
        return self.status == FINAL

    @property
    def is_submitted(self) -> bool:
        return self.status == SUBMITTED

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True, indent=1)

    @classmethod
    def from_json(cls, text: str | bytes) -> ImageRecord:
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def touched(self, **changes: Any) -> ImageRecord:
        """A copy with `changes` applied and `updated_at` set to now."""
        return dataclasses.replace(self, **changes, updated_at=utc_now_iso())
