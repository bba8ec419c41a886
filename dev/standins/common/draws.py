"""Deterministic "is this one of the share?" draws from the seed and a text, so a knob's choices repeat."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit


def share_draw(seed: int, purpose: str, text: str) -> float:
    """A number in [0, 1) fixed by seed, purpose and text; `share_draw(...) < ratio` picks that share."""
    digest = hashlib.sha256(f"{seed}:{purpose}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def url_path(url: str) -> str:
    """The url without its query: a presigned URL changes on every signing, its object does not."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
