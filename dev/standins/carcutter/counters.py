"""Car-Cutter's request counters also count result downloads per image, for `/_emulator/requests`."""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

from dev.standins.common.counters import RequestCounters
from dev.standins.common.draws import url_path

#: `repeated` lists at most this many URLs (the most downloaded first), so the answer stays small.
MAX_REPEATED_LISTED = 50
#: `submissions` keeps the options of this many latest async submissions (what a test asserts was asked for).
MAX_SUBMISSIONS_KEPT = 500


class CarCutterCounters(RequestCounters):
    def __init__(self) -> None:
        super().__init__()
        self.result_downloads: Counter[str] = Counter()
        self.submissions: deque[dict[str, Any]] = deque(maxlen=MAX_SUBMISSIONS_KEPT)

    def count_submission(self, **options: Any) -> None:
        """An async submission's options (no URL: they carry signatures), as the stand-in received them."""
        self.submissions.append({name: value for name, value in options.items() if value is not None})

    def count_result_download(self, image_url: str) -> None:
        """One result answered with the image, keyed by the URL without its query (signatures change)."""
        self.result_downloads[url_path(image_url)] += 1

    def snapshot(self) -> dict[str, Any]:
        repeated = sorted(
            ((url, count) for url, count in self.result_downloads.items() if count > 1),
            key=lambda item: (-item[1], item[0]),
        )
        return super().snapshot() | {
            "submissions": list(self.submissions),
            "result_downloads": {
                "total": self.result_downloads.total(),
                "distinct_urls": len(self.result_downloads),
                "repeated": dict(repeated[:MAX_REPEATED_LISTED]),
            },
        }
