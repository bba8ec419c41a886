"""One trigger watches a whole batch of submitted images until each is finished or the deadline passes.

Its arguments stay small: the URLs come either from the deferring operator's batch state in S3 (`batch_uri`;
the exact URLs are sealed there) or, for the sensor, from a short inline list. All its state is in those
arguments (absolute times), so a restarted triggerer simply starts polling again. It keeps status calls few:
- the first poll waits until `first_poll_at`;
- images already finished are never asked about again;
- each round walks the pending images in submission order, many URLs per request. The service works
  first in, first out, so while the earliest pending images are not finished the later ones are not
  either: the round stops at the first request that still has unfinished images. That is a heuristic,
  not a guarantee, so after `full_sweep_every` rounds cut short like this the next round asks about all;
- the interval grows while nothing finishes and falls back once something does.
A URL Car-Cutter does not know is one whose claim holder died before its submission arrived; the claim may
be taken over meanwhile, with a new URL, by the holder's retry or another run. So once a URL has stayed
unknown for `recheck_unknown_after` seconds, the wait ends ("unknown" event) and the operator re-reads the
image's record instead of asking about a URL nobody will submit.
Transient failures (5xx, 429, timeouts, dropped connections) are retried by the hook and then simply
skip the rest of the round; a request refused as too long (414) is split by the hook, and later rounds ask
with shorter URLs; auth, billing and input errors end the wait with an "error" event.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.triggers.base import BaseTrigger, TriggerEvent

from vehicle_photos.carcutter.exceptions import ApiError
from vehicle_photos.carcutter.hooks.carcutter import DEFAULT_MAX_URL_LENGTH
from vehicle_photos.carcutter.hooks.carcutter_async import CarCutterAsyncHook
from vehicle_photos.carcutter.utils import paths
from vehicle_photos.carcutter.utils.statuses import ImageStatus, chunk_for_status
from vehicle_photos.image_common.s3_objects import read_object, read_object_async, write_object_async
from vehicle_photos.image_common.sealed import UNOPENABLE_REASON, UnopenableSealError, unseal
from vehicle_photos.image_common.statuses import BatchState, WaitOutcome

_BACKOFF = 1.5


class CarCutterBatchStatusTrigger(BaseTrigger):
    """Fires one event: `{"status": "complete" | "timeout" | "unknown" | "error", "message", ...}`.

    With `batch_uri` the event also carries `batch_uri` and `statuses_uri`: an S3 JSON document
    `{image digest: {"known", "finished", "status", "phase", "angle", "quality", "details"}}` for the batch's
    waiting images (read it with `read_statuses`). With `image_urls` the event carries `images`: the same
    entries, one per URL in the given order.

    :param deadline: epoch seconds after which the wait ends with a "timeout" event.
    :param first_poll_at: epoch seconds of the first status request (default: now).
    :param recheck_unknown_after: seconds a URL may stay unknown to Car-Cutter before the wait ends with an
        "unknown" event (None: wait for it until the deadline).
    """

    def __init__(
        self,
        deadline: float,
        batch_uri: str | None = None,
        image_urls: list[str] | None = None,
        carcutter_conn_id: str = CarCutterAsyncHook.default_conn_name,
        aws_conn_id: str | None = "aws_default",
        poll_interval: float = 30.0,
        max_poll_interval: float = 300.0,
        first_poll_at: float | None = None,
        max_url_length: int = DEFAULT_MAX_URL_LENGTH,
        full_sweep_every: int = 10,
        status_concurrency: int = 4,
        recheck_unknown_after: float | None = None,
    ) -> None:
        super().__init__()
        if (batch_uri is None) == (image_urls is None):
            raise ValueError("give exactly one of batch_uri or image_urls")
        self.deadline = deadline
        self.batch_uri = batch_uri
        self.image_urls = list(image_urls) if image_urls is not None else None
        self.carcutter_conn_id = carcutter_conn_id
        self.aws_conn_id = aws_conn_id
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.first_poll_at = first_poll_at if first_poll_at is not None else time.time()
        self.max_url_length = max_url_length
        self.full_sweep_every = full_sweep_every
        self.status_concurrency = status_concurrency
        self.recheck_unknown_after = recheck_unknown_after

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "deadline": self.deadline,
                "batch_uri": self.batch_uri,
                "image_urls": self.image_urls,
                "carcutter_conn_id": self.carcutter_conn_id,
                "aws_conn_id": self.aws_conn_id,
                "poll_interval": self.poll_interval,
                "max_poll_interval": self.max_poll_interval,
                "first_poll_at": self.first_poll_at,
                "max_url_length": self.max_url_length,
                "full_sweep_every": self.full_sweep_every,
                "status_concurrency": self.status_concurrency,
                "recheck_unknown_after": self.recheck_unknown_after,
            },
        )

    def __repr__(self) -> str:
        watched = self.batch_uri or f"{len(self.image_urls or [])} images"
        return f"<CarCutterBatchStatusTrigger {watched}, conn {self.carcutter_conn_id!r}>"

    async def run(self) -> AsyncIterator[TriggerEvent]:
        urls = await self._watched_urls()  # {key: exact URL}
        latest: dict[str, ImageStatus] = {}
        unknown_since: dict[str, float] = {}
        pending = list(dict.fromkeys(urls.values()))
        interval = self.poll_interval
        rounds_cut_short = calls = 0
        await asyncio.sleep(max(0.0, min(self.first_poll_at, self.deadline) - time.time()))
        async with CarCutterAsyncHook(self.carcutter_conn_id, max_connections=self.status_concurrency) as hook:
            while pending and time.time() < self.deadline:
                base_url = hook.settings.base_url if hook.settings else ""
                limit = min(self.max_url_length, hook.status_url_limit or self.max_url_length)  # lower after a 414
                chunks = chunk_for_status(base_url, paths.ASYNC_STATUS, pending, limit)
                try:
                    round_calls, cut_short = await self._poll_round(
                        hook, chunks, latest, stop_early=rounds_cut_short < self.full_sweep_every
                    )
                except ApiError as error:
                    stopped = f"status polling stopped: {error}"
                    yield TriggerEvent(await self._event(WaitOutcome.ERROR, stopped, urls, latest))
                    return
                calls += round_calls
                before = len(pending)
                pending = [url for url in pending if not (url in latest and latest[url].finished)]
                rounds_cut_short = rounds_cut_short + 1 if cut_short else 0
                progressed = len(pending) < before
                interval = self.poll_interval if progressed else min(interval * _BACKOFF, self.max_poll_interval)
                (self.log.info if progressed else self.log.debug)(
                    "%d of %d images finished after %d status calls", len(urls) - len(pending), len(urls), calls
                )
                long_unknown = self._long_unknown(pending, latest, unknown_since)
                if long_unknown:
                    message = f"{long_unknown} images unknown to Car-Cutter; rechecking their claims"
                    yield TriggerEvent(await self._event(WaitOutcome.UNKNOWN_URLS, message, urls, latest))
                    return
                if pending:
                    await asyncio.sleep(max(0.0, min(interval, self.deadline - time.time())))
        if pending:
            message = f"{len(pending)} of {len(urls)} images not finished by {time.ctime(self.deadline)}"
            yield TriggerEvent(await self._event(WaitOutcome.TIMEOUT, message, urls, latest))
        else:
            finished = f"all {len(urls)} images finished"
            yield TriggerEvent(await self._event(WaitOutcome.COMPLETE, finished, urls, latest))

    def _long_unknown(self, pending: list[str], latest: dict[str, ImageStatus], since: dict[str, float]) -> int:
        """How many pending URLs Car-Cutter has said it does not know for `recheck_unknown_after` seconds."""
        now = time.time()
        for url in pending:
            status = latest.get(url)
            if status is not None and not status.known_to_service:
                since.setdefault(url, now)
            else:
                since.pop(url, None)
        if self.recheck_unknown_after is None:
            return 0
        return sum(1 for url in pending if now - since.get(url, now) >= self.recheck_unknown_after)

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
                if isinstance(answer, ApiError) and answer.retryable:
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

    async def _watched_urls(self) -> dict[str, str]:
        if self.image_urls is not None:
            return {str(position): url for position, url in enumerate(self.image_urls)}
        state = json.loads(await self._s3_read(self.batch_uri or ""))
        urls = {}
        for image in state["images"]:
            if image["state"] != BatchState.WAITING or not image.get("sealed_url"):
                continue
            try:
                urls[image["digest"]] = unseal(image["sealed_url"])
            except UnopenableSealError:  # the triggerer lacks a key the worker has: only this image goes unwatched
                self.log.error("%s: %s", image.get("shown_source"), UNOPENABLE_REASON)
        return urls

    async def _event(
        self, status: WaitOutcome, message: str, urls: dict[str, str], latest: dict[str, ImageStatus]
    ) -> dict[str, Any]:
        entries = {key: _entry(latest.get(url)) for key, url in urls.items()}
        if self.image_urls is not None:
            return {"status": status.value, "message": message, "images": list(entries.values())}
        statuses_uri = f"{self.batch_uri}.statuses.json"
        await self._s3_write(statuses_uri, json.dumps(entries).encode())
        return {"status": status.value, "message": message, "batch_uri": self.batch_uri, "statuses_uri": statuses_uri}

    async def _s3_read(self, uri: str) -> bytes:
        bucket, key = S3Hook.parse_s3_url(uri)
        async with await S3Hook(aws_conn_id=self.aws_conn_id).get_async_conn() as client:
            return await read_object_async(client, bucket, key)

    async def _s3_write(self, uri: str, body: bytes) -> None:
        bucket, key = S3Hook.parse_s3_url(uri)
        async with await S3Hook(aws_conn_id=self.aws_conn_id).get_async_conn() as client:
            await write_object_async(client, bucket, key, body, "application/json")


def read_statuses(s3_client: Any, statuses_uri: str) -> dict[str, dict[str, Any]]:
    bucket, key = S3Hook.parse_s3_url(statuses_uri)
    return json.loads(read_object(s3_client, bucket, key))


def _entry(status: ImageStatus | None) -> dict[str, Any]:
    """What is known of one URL, without the URL: `answered` False when no status request about it
    succeeded, `known` False when Car-Cutter said it does not know it, else its last status fields."""
    if status is None:
        return {"answered": False, "known": False, "finished": False}
    if not status.known_to_service:
        return {"answered": True, "known": False, "finished": False}
    fields = {key: value for key, value in status.to_dict().items() if key != "image"}
    return {**fields, "answered": True, "known": True, "finished": status.finished}
