"""Request counters per operation name and per answered HTTP status, for `/_emulator/requests`."""

from __future__ import annotations

from collections import Counter


class RequestCounters:
    def __init__(self) -> None:
        self.operations: Counter[str] = Counter()
        self.status_codes: Counter[str] = Counter()
        self.dropped = 0
        self.lost_responses = 0

    def reset(self) -> None:
        self.__init__()

    def snapshot(self) -> dict:
        return {
            "counts": dict(self.operations),
            "status_codes": dict(self.status_codes),
            "dropped": self.dropped,
            "lost_responses": self.lost_responses,
        }
