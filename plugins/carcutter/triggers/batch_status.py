"""One trigger watches a whole batch of submitted images until each is finished or the deadline passes.

All its state is in its keyword arguments (absolute times, the URL list), so a restarted triggerer
simply starts polling again. It keeps status calls few:
- the first poll waits until `first_poll_at`;
- images already finished are never asked about again;
- each round walks the pending images in submission order, many URLs per request. The service works
  first in, first out, so while the earliest pending images are not finished the later ones are not
  either: the round stops at the first request that still has unfinished images. That is a heuristic,
  not a guarantee, so after `full_sweep_every` rounds cut short like this the next round asks about all;
- the interval grows while nothing finishes and falls back once something does.
Transient failures (5xx, 429, timeouts, dropped connections) are retried by the hook and then simply
skip the rest of the round; auth, billing and input errors end the wait with an "error" event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from carcutter.exceptions import CarCutterError, CarCutterNotFoundError
from carcutter.hooks import paths
from carcutter.hooks.carcutter import DEFAULT_MAX_URL_LENGTH
from carcutter.hooks.carcutter_async import CarCutterAsyncHook
from carcutter.hooks.images import ImageStatus, chunk_for_status

COMPLETE = "complete"
TIMEOUT = "timeout"
ERROR = "error"
_BACKOFF = 1.5


class CarCutterBatchStatusTrigger(BaseTrigger):
    """Fires one event: `{"status": "complete" | "timeout" | "error", "message", "images": [...], "batch_key"}`
    where `images[i]` describes `image_urls[i]`: its last status fields (no URL) plus `finished`.

    :param image_urls: the exact URLs that were submitted, earliest submission first.
    :param deadline: epoch seconds after which the wait ends with a "timeout" event.
    :param first_poll_at: epoch seconds of the first status request (default: now).
    :param batch_key: an opaque reference echoed in the event (where the deferring task keeps its state).
    """

    def __init__(
        self,
        image_urls: list[str],
        deadline: float,
        carcutter_conn_id: str = CarCutterAsyncHook.default_conn_name,
        poll_interval: float = 30.0,
        max_poll_interval: float = 300.0,
        first_poll_at: float | None = None,
        max_url_length: int = DEFAULT_MAX_URL_LENGTH,
        full_sweep_every: int = 10,
        status_concurrency: int = 4,
        batch_key: str | None = None,
    ) -> None:
        super().__init__()
        self.image_urls = list(image_urls)
        self.deadline = deadline
        self.carcutter_conn_id = carcutter_conn_id
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.first_poll_at = first_poll_at if first_poll_at is not None else time.time()
        self.max_url_length = max_url_length
        self.full_sweep_every = full_sweep_every
        self.status_concurrency = status_concurrency
        self.batch_key = batch_key

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "image_urls": self.image_urls,
                "deadline": self.deadline,
                "carcutter_conn_id": self.carcutter_conn_id,
                "poll_interval": self.poll_interval,
                "max_poll_interval": self.max_poll_interval,
                "first_poll_at": self.first_poll_at,
                "max_url_length": self.max_url_length,
                "full_sweep_every": self.full_sweep_every,
                "status_concurrency": self.status_concurrency,
                "batch_key": self.batch_key,
            },
        )

    def __repr__(self) -> str:
        return f"<CarCutterBatchStatusTrigger {len(self.image_urls)} images, conn {self.carcutter_conn_id!r}>"

    async def run(self) -> AsyncIterator[TriggerEvent]:
        latest: dict[str, ImageStatus] = {}
        pending = list(dict.fromkeys(self.image_urls))
        interval = self.poll_interval
        rounds_cut_short = calls = 0
        await asyncio.sleep(max(0.0, min(self.first_poll_at, self.deadline) - time.time()))
        async with CarCutterAsyncHook(self.carcutter_conn_id, max_connections=self.status_concurrency) as hook:
            while pending and time.time() < self.deadline:
                base_url = hook.settings.base_url if hook.settings else ""
                chunks = chunk_for_status(base_url, paths.ASYNC_STATUS, pending, self.max_url_length)
                try:
                    round_calls, cut_short = await self._poll_round(
                        hook, chunks, latest, stop_early=rounds_cut_short < self.full_sweep_every
                    )
                except CarCutterError as error:
                    yield TriggerEvent(self._event(ERROR, f"status polling stopped: {error}", latest))
                    return
                calls += round_calls
                before = len(pending)
                pending = [url for url in pending if not (url in latest and latest[url].finished)]
                rounds_cut_short = rounds_cut_short + 1 if cut_short else 0
                progressed = len(pending) < before
                interval = self.poll_interval if progressed else min(interval * _BACKOFF, self.max_poll_interval)
                self.log.info(
                    "%d of %d images finished after %d status calls", len(self.image_urls) - len(pending),
                    len(self.image_urls), calls,
                )  # fmt: skip
                if pending:
                    await asyncio.sleep(max(0.0, min(interval, self.deadline - time.time())))
        if pending:
            message = f"{len(pending)} of {len(self.image_urls)} images not finished by the deadline"
            yield TriggerEvent(self._event(TIMEOUT, message, latest))
        else:
            yield TriggerEvent(self._event(COMPLETE, f"all {len(self.image_urls)} images finished", latest))

    async def _poll_round(
        self,
        hook: CarCutterAsyncHook,
        chunks: list[list[str]],
        latest: dict[str, ImageStatus],
        stop_early: bool,
    ) -> tuple[int, bool]:
        """Ask about `chunks` in order: a probe of one request, then waves of `status_concurrency`.
        Returns (requests made, whether the round stopped before the last chunk)."""
        start, calls = 0, 0
        while start < len(chunks):
            wave = chunks[start : start + (1 if start == 0 else self.status_concurrency)]
            answers = await asyncio.gather(*(hook.get_image_statuses(chunk) for chunk in wave), return_exceptions=True)
            calls += len(wave)
            wave_finished = True
            for chunk, answer in zip(wave, answers, strict=True):
                if _is_passing_trouble(answer):
                    self.log.warning("status request failed (%s); the images stay pending", answer)
                    wave_finished = False
                    continue
                if isinstance(answer, BaseException):
                    raise answer
                latest.update((status.image, status) for status in answer if status.image in chunk)
                wave_finished &= all(url in latest and latest[url].finished for url in chunk)
            start += len(wave)
            if stop_early and not wave_finished and start < len(chunks):
                return calls, True
        return calls, False

    def _event(self, status: str, message: str, latest: dict[str, ImageStatus]) -> dict[str, Any]:
        images = []
        for url in self.image_urls:
            known = latest.get(url)
            entry = {key: value for key, value in known.to_dict().items() if key != "image"} if known else {}
            images.append({**entry, "finished": bool(known and known.finished)})
        return {"status": status, "message": message, "images": images, "batch_key": self.batch_key}


def _is_passing_trouble(answer: object) -> bool:
    """A failure worth waiting out: retryable errors, and a 404 for URLs the service does not know yet."""
    return isinstance(answer, CarCutterError) and (answer.retryable or isinstance(answer, CarCutterNotFoundError))
