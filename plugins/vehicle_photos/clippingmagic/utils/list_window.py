"""Where to look for an upload in an account's image list without reading the whole list.

The list endpoint pages by `offset` / `limit` (at most 100) and, in the documented example, orders images by
ascending id; ids only grow, so an upload made after the list was seen to end at some image is one of the
images listed after it. A `ListAnchor` is that end, noted before an upload's claim is written (and kept in the
claim): the upload is looked for only among the images past it, from the newest back. The other plausible
order (newest first) is recognised from the first page and read from the front.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from vehicle_photos.clippingmagic.utils.models import ClippingMagicImage

LIST_PAGE_MAX = 100
# An anchor-less claim (written before anchors were kept) is looked for among this many of the newest images.
UNANCHORED_PAGES = 10

ListPage = Callable[[int, int], list[ClippingMagicImage]]  # (offset, limit) -> one page


@dataclass(frozen=True)
class ListAnchor:
    """The list's length and its newest image id when it was read."""

    count: int
    newest_id: int

    def to_dict(self) -> dict[str, int]:
        return {"count": self.count, "newest_id": self.newest_id}

    @classmethod
    def from_dict(cls, data: Any) -> ListAnchor | None:
        if not isinstance(data, dict) or "count" not in data or "newest_id" not in data:
            return None
        return cls(int(data["count"]), int(data["newest_id"]))


def is_newest_first(page: list[ClippingMagicImage]) -> bool:
    return len(page) >= 2 and page[0].id > page[-1].id


def list_length(page: ListPage, first: list[ClippingMagicImage], hint: int = 0) -> int:
    """How many images the (oldest-first) list holds: pages are read from `hint` (a length seen before)
    outwards, doubling the step, then halving back; a short page tells the length."""
    if len(first) < LIST_PAGE_MAX:
        return len(first)
    at_least, at_most = LIST_PAGE_MAX, None
    offset, step = max(at_least, hint - LIST_PAGE_MAX // 2), LIST_PAGE_MAX
    while at_most is None or at_least < at_most:
        size = len(page(offset, LIST_PAGE_MAX))
        if 0 < size < LIST_PAGE_MAX:
            return offset + size
        if size:
            at_least = offset + LIST_PAGE_MAX
        else:
            at_most = offset
        if at_most is None:
            offset, step = at_least + step, step * 2
        else:
            offset = (at_least + at_most) // 2
    return at_least


def anchor_of(page: ListPage, hint: int = 0) -> ListAnchor:
    """Where the list ends now."""
    first = page(0, LIST_PAGE_MAX)
    if is_newest_first(first):
        return ListAnchor(0, first[0].id)
    length = list_length(page, first, hint)
    last = page(length - 1, 1) if length > len(first) else first[-1:]
    return ListAnchor(length, max((image.id for image in last), default=0))


def images_after(page: ListPage, anchor: ListAnchor | None) -> Iterator[ClippingMagicImage]:
    """The images listed after `anchor`, newest pages first (without one: the newest `UNANCHORED_PAGES` pages).
    Read from the newest back, an image deleted meanwhile never hides one that was not read yet."""
    first = page(0, LIST_PAGE_MAX)
    newest_first = is_newest_first(first)
    if newest_first:
        offsets: Iterator[int] = itertools.count(0, LIST_PAGE_MAX)
    else:
        offsets = _downwards(max(0, list_length(page, first, anchor.count if anchor else 0) - LIST_PAGE_MAX))
    for read, offset in enumerate(offsets, start=1):
        images = first if offset == 0 else page(offset, LIST_PAGE_MAX)
        yield from (image for image in images if anchor is None or image.id > anchor.newest_id)
        if not images or (anchor is not None and min(image.id for image in images) <= anchor.newest_id):
            return
        if (newest_first and len(images) < LIST_PAGE_MAX) or (anchor is None and read >= UNANCHORED_PAGES):
            return


def _downwards(top: int) -> Iterator[int]:
    yield from range(top, 0, -LIST_PAGE_MAX)
    yield 0
