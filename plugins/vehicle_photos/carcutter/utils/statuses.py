"""Image statuses of the asynchronous API and the status-request URL arithmetic (shared by both hooks).

Car-Cutter says more status, phase and quality values may be added. An unknown *status* makes the image
"not finished" (never a crash); an unknown phase or quality changes nothing about whether it is finished
(a final image with a new quality value is still final). Each unknown value is logged once per process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

FINAL = "final"
ERROR = "error"
EXPIRED = "expired"
UNKNOWN = "unknown"
KNOWN_STATUSES = frozenset({"processing", "undefined", "raw", FINAL, ERROR, EXPIRED, UNKNOWN})
TERMINAL_STATUSES = frozenset({FINAL, ERROR, EXPIRED})
KNOWN_PHASES = frozenset({"unknown", "downloading", "analyzing", "cutting", "qa-ing", "retouching", "ready"})
KNOWN_QUALITIES = frozenset({"ok", "retake"})
RETAKE = "retake"

# Characters left as they are inside a query value: RFC 3986 allows them there, and escaping them
# would make every presigned URL longer, which means fewer URLs per status request.
_QUERY_SAFE = "/:@!$'()*,;?"

_reported: set[tuple[str, str]] = set()
_reported_lock = threading.Lock()


def _is_known(kind: str, value: Any, known: frozenset[str], none_ok: bool) -> bool:
    if value is None and none_ok:
        return True
    if value in known:
        return True
    with _reported_lock:
        first_time = (kind, repr(value)) not in _reported
        _reported.add((kind, repr(value)))
    if first_time:
        consequence = "treating such images as not finished" if kind == "status" else "ignored"
        log.warning("Car-Cutter sent an unknown image %s %r; %s", kind, value, consequence)
    return False


@dataclass(frozen=True)
class ImageStatus:
    """One entry of an ImageStatusResponse. `details` keeps fields the document does not name."""

    image: str
    status: str | None
    phase: str | None = None
    angle: list[str] | None = None
    quality: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_api(cls, entry: dict[str, Any]) -> ImageStatus:
        named = {"image", "status", "phase", "angle", "quality"}
        angle = entry.get("angle")
        return cls(
            image=str(entry.get("image") or entry.get("image_url") or ""),
            status=entry.get("status"),
            phase=entry.get("phase"),
            angle=[str(part) for part in angle] if isinstance(angle, list) else None,
            quality=entry.get("quality"),
            details={key: value for key, value in entry.items() if key not in named and key != "image_url"},
        )

    @property
    def finished(self) -> bool:
        """A terminal status (final, error, expired); only then may a caller act on it."""
        _is_known("phase", self.phase, KNOWN_PHASES, none_ok=True)
        _is_known("quality", self.quality, KNOWN_QUALITIES, none_ok=True)
        return _is_known("status", self.status, KNOWN_STATUSES, none_ok=False) and self.status in TERMINAL_STATUSES

    @property
    def known_to_service(self) -> bool:
        """The service has this URL (it was submitted), whatever its state."""
        return self.status is not None and self.status != UNKNOWN

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageStatus:
        return cls(**data)


def parse_status_response(payload: Any) -> list[ImageStatus]:
    """`{"data": {"images": [...]}}` (also accepts the list, or `{"images": [...]}`, on its own)."""
    if isinstance(payload, dict):
        payload = (payload.get("data") or payload).get("images", [])
    if not isinstance(payload, list):
        return []
    return [ImageStatus.from_api(entry) for entry in payload if isinstance(entry, dict)]


def status_query(image_urls: Iterable[str]) -> str:
    return "&".join(f"image_url={quote(url, safe=_QUERY_SAFE)}" for url in image_urls)


def chunk_for_status(base_url: str, path: str, image_urls: list[str], max_url_length: int) -> list[list[str]]:
    """Split `image_urls` so each status request URL stays within `max_url_length` characters.
    A single URL longer than the limit still gets a request of its own."""
    fixed = len(base_url) + len(path) + 1
    chunks: list[list[str]] = []
    current: list[str] = []
    length = fixed
    for url in image_urls:
        added = len("image_url=") + len(quote(url, safe=_QUERY_SAFE)) + (1 if current else 0)
        if current and length + added > max_url_length:
            chunks.append(current)
            current, length = [], fixed
            added -= 1
        current.append(url)
        length += added
    if current:
        chunks.append(current)
    return chunks
