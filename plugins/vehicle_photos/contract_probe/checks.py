"""One measured guess: what the project assumes, what the service did, the verdict and what to change."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import requests

from vehicle_photos.image_common.api_errors import ApiError

log = logging.getLogger(__name__)

AS_ASSUMED = "as assumed"
DIFFERS = "differs"
NOT_MEASURED = "not measured"
CARCUTTER = "Car-Cutter"
CLIPPINGMAGIC = "Clipping Magic"


@dataclass(frozen=True)
class Guess:
    """A guess the project depends on: `key` is stable (tests and the JSON name it), `setting` is what a user
    changes when the service does otherwise."""

    key: str
    service: str
    title: str
    assumed: str
    setting: str


@dataclass(frozen=True)
class Check:
    key: str
    service: str
    guess: str
    assumed: str
    observed: str
    verdict: str
    setting: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


class Checks:
    """The checks of one probe run, in the order they were measured; each guess is recorded once."""

    def __init__(self) -> None:
        self.items: dict[str, Check] = {}

    def record(self, guess: Guess, observed: str, as_assumed: bool, assumed: str | None = None) -> None:
        verdict = AS_ASSUMED if as_assumed else DIFFERS
        self._add(guess, observed, verdict, assumed)

    def not_measured(self, guess: Guess, why: str, assumed: str | None = None) -> None:
        self._add(guess, why, NOT_MEASURED, assumed)

    def _add(self, guess: Guess, observed: str, verdict: str, assumed: str | None) -> None:
        if guess.key in self.items:
            return
        self.items[guess.key] = Check(
            guess.key, guess.service, guess.title, assumed or guess.assumed, observed, verdict, guess.setting
        )

    @contextmanager
    def measuring(self, *guesses: Guess) -> Iterator[None]:
        """Run a measurement; if it fails, the guesses it had not recorded yet are "not measured", with why."""
        try:
            yield
        except (ApiError, requests.RequestException, ValueError, KeyError, TypeError) as error:
            log.warning("probe step failed: %s", describe_error(error))
            for guess in guesses:
                self.not_measured(guess, f"the probe's request failed: {describe_error(error)}")

    def __iter__(self) -> Iterator[Check]:
        return iter(self.items.values())


def describe_error(error: BaseException) -> str:
    """A short description that names no URL: requests' messages repeat the request URL (signatures included)."""
    if isinstance(error, ApiError):
        return str(error)
    if isinstance(error, requests.RequestException):
        return f"{type(error).__name__} (no answer)"
    return f"{type(error).__name__}"
