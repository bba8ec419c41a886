"""Trigger that waits until images have a newer result: a human finished editing them in ClippingMagic.js."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from airflow.triggers.base import BaseTrigger, TriggerEvent

from clippingmagic.exceptions import ClippingMagicError, RateLimitError, ServerError
from clippingmagic.hooks.clippingmagic_async import ClippingMagicAsyncHook
from clippingmagic.models import ClippingMagicImage

# The documented starting point for parallel calls.
POLL_CONCURRENCY = 5


class ClippingMagicResultTrigger(BaseTrigger):
    """
    Poll the Image JSON Object of every image until its ``resultRevision`` passes ``after_revisions[id]``.

    One trigger watches a whole batch. Fires once: ``{"status": "success", "images": [...]}`` when all are
    done, ``{"status": "timeout", ...}`` at ``end_time`` (epoch seconds), or ``{"status": "error", ...}``
    on a final error (unknown image, bad credentials). 429, 5xx and network errors only delay the next poll
    (429 by the documented linear back-off).
    """

    def __init__(
        self,
        image_ids: list[int],
        after_revisions: dict[str, int] | None = None,
        clippingmagic_conn_id: str = ClippingMagicAsyncHook.default_conn_name,
        poll_interval: float = 30.0,
        end_time: float | None = None,
        rate_limit_base_wait: float = 5.0,
    ) -> None:
        super().__init__()
        self.image_ids = [int(image_id) for image_id in image_ids]
        self.after_revisions = {str(key): int(value) for key, value in (after_revisions or {}).items()}
        self.clippingmagic_conn_id = clippingmagic_conn_id
        self.poll_interval = poll_interval
        self.end_time = end_time
        self.rate_limit_base_wait = rate_limit_base_wait

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "image_ids": self.image_ids,
                "after_revisions": self.after_revisions,
                "clippingmagic_conn_id": self.clippingmagic_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "rate_limit_base_wait": self.rate_limit_base_wait,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = ClippingMagicAsyncHook(self.clippingmagic_conn_id)
        done: dict[int, ClippingMagicImage] = {}
        consecutive_rate_limits = 0
        limit = asyncio.Semaphore(POLL_CONCURRENCY)
        async with aiohttp.ClientSession() as session:

            async def poll(image_id: int) -> ClippingMagicImage:
                async with limit:
                    return await hook.get_image(image_id, session)

            while True:
                pending = [image_id for image_id in self.image_ids if image_id not in done]
                answers = await asyncio.gather(*(poll(image_id) for image_id in pending), return_exceptions=True)
                wait = self.poll_interval
                rate_limited = False
                for image_id, answer in zip(pending, answers, strict=True):
                    if isinstance(answer, ClippingMagicImage):
                        if answer.result_revision > self.after_revisions.get(str(image_id), 0):
                            done[image_id] = answer
                    elif isinstance(answer, RateLimitError):
                        rate_limited = True
                    elif isinstance(answer, ServerError | aiohttp.ClientError | asyncio.TimeoutError):
                        self.log.warning("polling image %s failed (%s); will ask again", image_id, answer)
                    elif isinstance(answer, ClippingMagicError):
                        yield TriggerEvent(self._event("error", done, message=f"image {image_id}: {answer}"))
                        return
                    else:
                        raise answer
                if rate_limited:
                    consecutive_rate_limits += 1
                    wait = max(wait, self.rate_limit_base_wait * consecutive_rate_limits)
                else:
                    consecutive_rate_limits = 0
                if len(done) == len(self.image_ids):
                    yield TriggerEvent(self._event("success", done))
                    return
                if self.end_time is not None and time.time() + wait > self.end_time:
                    yield TriggerEvent(self._event("timeout", done))
                    return
                await asyncio.sleep(wait)

    def _event(self, status: str, done: dict[int, ClippingMagicImage], message: str = "") -> dict[str, Any]:
        return {
            "status": status,
            "message": message,
            "images": [done[image_id].to_dict() for image_id in self.image_ids if image_id in done],
            "pending": [image_id for image_id in self.image_ids if image_id not in done],
        }
