"""Physical lines of a text listing file (CSV, JSON Lines), one at a time, each decoded on its own.

Lines end at `\\n` (a `\\r` before it is dropped), so line numbers are the ones an editor shows. A line that
is too long or not UTF-8 costs only itself: it comes back as a problem and the next line is read normally.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

MAX_LINE_BYTES = 1024 * 1024
_RAW_PREVIEW_BYTES = 8 * 1024


@dataclass(frozen=True)
class TextLine:
    number: int  # 1-based physical line
    text: str  # decoded; for a problem line, a lossy preview for the rejection's `raw`
    problem: str | None = None


def text_lines(content: bytes, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[TextLine]:
    """Every physical line, blank ones included (callers skip them). Holds one line at a time, not a copy
    of the file."""
    start, number, size = 0, 0, len(content)
    while start < size:
        end = content.find(b"\n", start)
        end = size if end < 0 else end
        number += 1
        stop = end - 1 if end > start and content[end - 1] == 0x0D else end
        yield _decode(content, start, stop, number, max_line_bytes)
        start = end + 1


def _decode(content: bytes, start: int, stop: int, number: int, max_line_bytes: int) -> TextLine:
    if stop - start > max_line_bytes:
        preview = _strip_bom(content[start : start + _RAW_PREVIEW_BYTES].decode("utf-8", "replace"), number)
        return TextLine(number, preview, f"line is {stop - start:,} bytes long, over the {max_line_bytes:,}-byte limit")
    data = content[start:stop]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        where = f"byte 0x{data[error.start]:02x} at position {error.start + 1}"
        preview = _strip_bom(data.decode("utf-8", "replace"), number)
        return TextLine(number, preview, f"line is not UTF-8 text ({where}); save the file as UTF-8")
    text = _strip_bom(text, number)
    if "\x00" in text:
        return TextLine(number, text.replace("\x00", "\\0"), "line contains a NUL byte (binary data, not text)")
    return TextLine(number, text)


def _strip_bom(text: str, number: int) -> str:
    return text.removeprefix("\ufeff") if number == 1 else text
