"""Seeded fault injection around a stand-in: latency, concurrency cap (429), server errors, dropped connections,
and optionally a count of upcoming API requests to refuse with 429 (`countdown_knob`).

It is the outermost ASGI layer, so it also counts every API request per operation (the route's `name`) and
every answered status. Paths under `/_emulator/` are never delayed, refused, counted or dropped. Paths under an
`unmetered` prefix (a stand-in for another service, such as the S3 that Clipping Magic redirects downloads to) are
counted but never delayed, refused or dropped: the API's knobs do not apply to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

from dev.standins import guesses
from dev.standins.common.counters import RequestCounters
from dev.standins.common.knobs import Knobs

EMULATOR_PREFIX = "/_emulator"
ErrorResponder = Callable[[int, str], Response]


class FaultInjector:
    def __init__(
        self,
        app: FastAPI,
        knobs: Knobs,
        counters: RequestCounters,
        error_response: ErrorResponder,
        unmetered: tuple[str, ...] = (),
        countdown_knob: str | None = None,
        lost_answer_knobs: dict[str, str] | None = None,
    ):
        self.app = app
        self.unmetered = unmetered
        self.knobs = knobs
        self.counters = counters
        self.error_response = error_response
        self.countdown_knob = countdown_knob
        self.lost_answer_knobs = lost_answer_knobs or {}  # operation -> knob counting its next lost answers
        self.in_flight = 0
        self.random = random.Random(knobs.seed)
        knobs.on_change(self._reseed)

    def _reseed(self, changed: dict[str, Any]) -> None:
        if "seed" in changed:
            self.random = random.Random(self.knobs.seed)

    def reset(self) -> None:
        self.random = random.Random(self.knobs.seed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EMULATOR_PREFIX):
            await self.app(scope, receive, send)
            return
        operation = self._operation(scope)
        self.counters.operations[operation] += 1
        send = self._recording(send)
        if scope["path"].startswith(self.unmetered):
            await self.app(scope, receive, send)
            return
        cap = self.knobs.concurrency_cap
        if (cap and self.in_flight >= cap) or (self.countdown_knob and self.knobs.count_down(self.countdown_knob)):
            response = self.error_response(429, "Too Many Requests")
            response.headers["Retry-After"] = str(guesses.RETRY_AFTER_SECONDS)
            await response(scope, receive, send)
            return
        self.in_flight += 1
        try:
            if self.knobs.latency_ms:
                await asyncio.sleep(self.knobs.latency_ms / 1000)
            draw = self.random.random()
            drop, server_error = self.knobs.drop_ratio, self.knobs.error_5xx_ratio
            if draw < drop:
                self.counters.dropped += 1
                await close_without_answer(receive)
            elif draw < drop + server_error:
                status = guesses.INJECTED_SERVER_ERROR_STATUS
                await self.error_response(status, "Internal server error (injected)")(scope, receive, send)
            elif draw < drop + server_error + self.knobs.lost_response_ratio or self._loses_answer(operation):
                self.counters.lost_responses += 1
                await self.app(scope, receive, discard)
                await close_without_answer(receive)
            else:
                await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    def _loses_answer(self, operation: str) -> bool:
        knob = self.lost_answer_knobs.get(operation)
        return knob is not None and self.knobs.count_down(knob)

    def _operation(self, scope: Scope) -> str:
        partial = None
        for route in self.app.router.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return route.name
            if match is Match.PARTIAL and partial is None:
                partial = route.name
        return partial or "unknown"

    def _recording(self, send: Send) -> Send:
        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.counters.status_codes[str(message["status"])] += 1
            await send(message)

        return recording_send


async def discard(message: Message) -> None:
    """An ASGI `send` that throws the answer away (the request was processed, the answer is lost)."""


async def close_without_answer(receive: Receive) -> None:
    """Close the client's connection without writing a byte, then wait for the server to notice.

    ASGI has no "drop" message; uvicorn's `receive` is a method of its request cycle, which holds the transport.
    Without one (another server), raising makes the server answer 500 instead.
    """
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("cannot drop the connection on this ASGI server")
    transport.close()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(2):
            while (await receive())["type"] != "http.disconnect":
                pass
