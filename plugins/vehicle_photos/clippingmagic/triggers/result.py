"""The trigger that waits until images have a newer result: a person finished editing them in ClippingMagic.js."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from vehicle_photos.clippingmagic.exceptions import ApiError, RateLimitedError
from vehicle_photos.clippingmagic.hooks.clippingmagic_async import ClippingMagicAsyncHook
from vehicle_photos.clippingmagic.utils.connection import DEFAULT_CONN_ID
from vehicle_photos.clippingmagic.utils.models import ClippingMagicImage
from vehicle_photos.image_common.statuses import WaitOutcome

POLL_CONCURRENCY = 5  # the documented starting point for parallel requests


class _WaitEnded(Exception):
    """A final error about one image: waiting longer cannot help."""


class ClippingMagicResultTrigger(BaseTrigger):
    """Polls the Image JSON Object of every image until its `resultRevision` passes `after_revisions[id]`
    (default 0: any result). One trigger watches a whole batch; images already done are not asked again.

    Fires once: `{"status": "success" | "timeout" | "error", "message", "images": [Image JSON Objects without
    secrets, of the images done], "pending": [ids]}`. A 429 round backs off linearly (the connection's
    `rate_limit_wait` times the rate-limited rounds in a row); 5xx and network failures only wait for the next
    round; any other error (an unknown image, refused credentials) ends the wait with "error".

    :param deadline: epoch seconds after which the wait ends with a "timeout" event.
    """

    def __init__(
        self,
        image_ids: list[int],
        deadline: float,
        after_revisions: dict[str, int] | None = None,
        clippingmagic_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 30.0,
    ) -> None:
        super().__init__()
        self.image_ids = [int(image_id) for image_id in image_ids]
        self.deadline = deadline
        self.after_revisions = {str(key): int(value) for key, value in (after_revisions or {}).items()}
        self.clippingmagic_conn_id = clippingmagic_conn_id
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        arguments = ("image_ids", "deadline", "after_revisions", "clippingmagic_conn_id", "poll_interval")
        return f"{type(self).__module__}.{type(self).__qualname__}", {name: getattr(self, name) for name in arguments}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        done: dict[int, ClippingMagicImage] = {}
        rate_limited_rounds = 0
        async with ClippingMagicAsyncHook(self.clippingmagic_conn_id, max_connections=POLL_CONCURRENCY) as hook:
            while True:
                try:
                    rate_limited = await self._poll_round(hook, done)
                except _WaitEnded as error:
                    yield TriggerEvent(self._event(WaitOutcome.ERROR, str(error), done))
                    return
                if len(done) == len(self.image_ids):
                    all_done = f"all {len(done)} images have a new result"
                    yield TriggerEvent(self._event(WaitOutcome.SUCCESS, all_done, done))
                    return
                rate_limited_rounds = rate_limited_rounds + 1 if rate_limited else 0
                wait = max(self.poll_interval, rate_limited_rounds * hook.settings.retry.rate_limit_wait)
                if time.time() + wait > self.deadline:
                    message = f"{len(self.image_ids) - len(done)} images got no new result by the deadline"
                    yield TriggerEvent(self._event(WaitOutcome.TIMEOUT, message, done))
                    return
                await asyncio.sleep(wait)

    async def _poll_round(self, hook: ClippingMagicAsyncHook, done: dict[int, ClippingMagicImage]) -> bool:
        """Ask about every pending image; returns whether any answer was a 429. Raises the first final error."""
        pending = [image_id for image_id in self.image_ids if image_id not in done]
        answers = await asyncio.gather(*(hook.get_image(image_id) for image_id in pending), return_exceptions=True)
        for image_id, answer in zip(pending, answers, strict=True):
            if isinstance(answer, ClippingMagicImage):
                if answer.result_revision > self.after_revisions.get(str(image_id), 0):
                    done[image_id] = answer
            elif isinstance(answer, ApiError) and answer.retryable:
                self.log.warning("polling image %s failed (%s); asking again next round", image_id, answer)
            elif isinstance(answer, ApiError):
                raise _WaitEnded(f"image {image_id}: {answer}")
            else:
                raise answer
        return any(isinstance(answer, RateLimitedError) for answer in answers)

    def _event(self, status: WaitOutcome, message: str, done: dict[int, ClippingMagicImage]) -> dict[str, Any]:
        return {
            "status": status.value,
            "message": message,
            "images": [done[image_id].to_dict() for image_id in self.image_ids if image_id in done],
            "pending": [image_id for image_id in self.image_ids if image_id not in done],
        }
