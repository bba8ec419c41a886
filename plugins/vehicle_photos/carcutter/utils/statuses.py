"""Image statuses of the asynchronous API, matching them to the URLs asked about, and the status-request URL
arithmetic (shared by both hooks).

Car-Cutter says more status, phase and quality values may be added. An unknown *status* makes the image
"not finished" (never a crash); an unknown phase or quality changes nothing about whether it is finished
(a final image with a new quality value is still final). Each unknown value is logged once per process.

An entry names its image by URL, "as submitted" says the document; a service that parses and re-serialises
URLs may echo them normalised (percent-encoding, query order) instead. `match_statuses` takes an entry for
the URL it echoes byte for byte, else for the one asked URL of the same `canonical_url`; two asked URLs of one
canonical form are never matched that way (`ambiguous_urls`: ask about each on its own).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

log = logging.getLogger(__name__)


class ApiStatus(StrEnum):
    """An image's status as Car-Cutter's ImageStatusResponse names it."""

    PROCESSING = "processing"
    UNDEFINED = "undefined"
    RAW = "raw"
    FINAL = "final"
    ERROR = "error"
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # the service does not know the URL


KNOWN_STATUSES = frozenset(ApiStatus)
TERMINAL_STATUSES = frozenset({ApiStatus.FINAL, ApiStatus.ERROR, ApiStatus.EXPIRED})
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
        return self.status is not None and self.status != ApiStatus.UNKNOWN

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageStatus:
        return cls(**data)


def parse_status_response(payload: Any) -> list[ImageStatus]:
    """`{"data": {"images": [...]}}` (also accepts the list, or `{"images": [...]}`, on its own); any other
    shape holds no entries."""
    if isinstance(payload, dict):
        data = payload.get("data")
        payload = (data if isinstance(data, dict) else payload).get("images", [])
    if not isinstance(payload, list):
        return []
    return [ImageStatus.from_api(entry) for entry in payload if isinstance(entry, dict)]


def canonical_url(url: str) -> str:
    """`url` as a service that parses and re-serialises it would keep it: scheme and host in lower case, no
    default port, no fragment, path and query values percent-decoded and encoded again one way, the query's
    parameters sorted. Different URLs may share a form (`?a=1&b=2`, `?b=2&a=1`): see `match_statuses`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and (parts.scheme.lower(), port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    path = quote(unquote(parts.path), safe="/")
    pairs = sorted(parse_qsl(parts.query, keep_blank_values=True))
    query = "&".join(f"{quote(key, safe='')}={quote(value, safe='')}" for key, value in pairs)
    return urlunsplit((parts.scheme.lower(), host, path, query, ""))


def ambiguous_urls(urls: Iterable[str]) -> set[str]:
    """The distinct URLs that share their canonical form with another one."""
    distinct = set(urls)
    forms = Counter(canonical_url(url) for url in distinct)
    return {url for url in distinct if forms[canonical_url(url)] > 1}


def match_statuses(asked: Sequence[str], answered: Iterable[ImageStatus]) -> list[ImageStatus]:
    """The answer's entry for each asked URL, carrying that URL exactly, in the order asked (a URL asked twice
    comes twice); URLs the answer has no entry for are left out. An entry belongs to the URL it echoes byte for
    byte, else to the one asked URL of its canonical form: URLs in `ambiguous_urls(asked)` match exactly only."""
    exact: dict[str, ImageStatus] = {}
    by_form: dict[str, ImageStatus] = {}
    for entry in answered:
        exact.setdefault(entry.image, entry)
        by_form.setdefault(canonical_url(entry.image), entry)
    ambiguous = ambiguous_urls(asked)
    matched = []
    for url in asked:
        entry = exact.get(url)
        if entry is None and url not in ambiguous:
            entry = by_form.get(canonical_url(url))
            if entry is not None:
                _report_once("echo", "Car-Cutter echoes submitted URLs normalised; matching them by canonical form")
        if entry is not None:
            matched.append(entry if entry.image == url else dataclasses.replace(entry, image=url))
    return matched


def in_asked_order(asked: Sequence[str], found: Iterable[ImageStatus]) -> list[ImageStatus]:
    """One entry per asked URL that has one, in the order asked (a URL asked twice comes twice)."""
    by_url = {status.image: status for status in found}
    return [by_url[url] for url in asked if url in by_url]


def unanswered_ambiguous(asked: Sequence[str], matched: Iterable[ImageStatus]) -> list[str]:
    """Asked URLs that got no entry because another asked URL shares their canonical form: ask each alone."""
    answered = {status.image for status in matched}
    ambiguous = ambiguous_urls(asked)
    return [url for url in dict.fromkeys(asked) if url in ambiguous and url not in answered]


def _report_once(kind: str, message: str) -> None:
    with _reported_lock:
        first_time = (kind, message) not in _reported
        _reported.add((kind, message))
    if first_time:
        log.warning(message)


def status_query(image_urls: Iterable[str]) -> str:
    return "&".join(f"image_url={quote(url, safe=_QUERY_SAFE)}" for url in image_urls)


def status_url_length(base_url: str, path: str, image_urls: Sequence[str]) -> int:
    """Characters of the status request URL asking about `image_urls`."""
    return len(base_url) + len(path) + 1 + len(status_query(image_urls))


def lowered_url_limit(limit: int | None, base_url: str, path: str, refused: Sequence[str]) -> int:
    """The longest status request URL to send after Car-Cutter refused the one asking about `refused` (414):
    half its length, so a few refusals find any limit (one less than its length could take one refusal per
    URL dropped, every round)."""
    half = status_url_length(base_url, path, refused) // 2
    return min(limit or half, half)


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
