"""The billing ledger: how many times each image was charged, and the credits left."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable


class CreditsExhausted(Exception):
    """Not enough credits left for a billable operation."""


class BillingLedger:
    def __init__(self, credits: int):
        self.credits_left = credits
        self.charges: Counter[str] = Counter()

    def charge(self, keys: Iterable[str]) -> None:
        """Charge one credit per key, all or nothing."""
        keys = list(keys)
        if len(keys) > self.credits_left:
            raise CreditsExhausted(f"{len(keys)} credits needed, {self.credits_left} left")
        self.credits_left -= len(keys)
        self.charges.update(keys)

    def reset(self, credits: int) -> None:
        self.credits_left = credits
        self.charges.clear()

    def snapshot(self) -> dict:
        return {"charges": dict(self.charges), "credits_left": self.credits_left}
