"""Knobs for a Car-Cutter that lags and loses answers (guesses.py, "A service that lags"), and what they change:
when a submitted URL becomes known to the status endpoint, how long a submission is held before it is
processed, which answers are lost after the work was done and billed, and what a 402 leaves billed."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from dev.standins import guesses
from dev.standins.carcutter import paths
from dev.standins.common.faults import ErrorResponder, close_without_answer, discard
from dev.standins.common.knobs import Knob, Knobs

DROPPED, BAD_GATEWAY = guesses.CC_LOST_ANSWER_FORMS
REFUSE_ALL, BILL_WHAT_FITS = guesses.CC_SHORT_CREDITS
#: operation -> path, for `--lost-answers-of`
LOSABLE_OPERATIONS = {"asyncSubmit": paths.ASYNC_SUBMIT, "syncSubmit": paths.SYNC_SINGLE_SEGMENT}

TIMING_KNOBS: tuple[Knob, ...] = (
    Knob(
        "registration_delay_seconds",
        float,
        guesses.CC_REGISTRATION_DELAY_SECONDS,
        "a submitted image_url stays `unknown` to status (and 404 to result) this long after its submission",
    ),
    Knob(
        "hold_submission_seconds",
        float,
        guesses.CC_HOLD_SUBMISSION_SECONDS,
        "an async submission is held this long before it is processed and billed (a client may time out first)",
    ),
    Knob(
        "lost_answers",
        int,
        0,
        "the next N calls of --lost-answers-of are processed and billed, then their answer is lost",
    ),
    Knob(
        "lost_answers_of",
        str,
        "asyncSubmit",
        "the operation whose answers --lost-answers loses",
        choices=tuple(LOSABLE_OPERATIONS),
    ),
    Knob(
        "lost_answer_as",
        str,
        DROPPED,
        "how an answer is lost: the connection closed without a byte (dropped) or a front proxy's 502",
        choices=guesses.CC_LOST_ANSWER_FORMS,
    ),
    Knob(
        "short_credits",
        str,
        REFUSE_ALL,
        "an async submission the credits left cannot cover: refused whole with 402 (refuse-all), or its first URLs"
        " billed and processed as far as the credits go, then 402 (bill-what-fits)",
        choices=guesses.CC_SHORT_CREDITS,
    ),
)


class LostAnswers:
    """ASGI middleware: while `lost_answers` is above 0, a call of `lost_answers_of` is processed (and billed)
    as usual, then its answer is thrown away and the client gets a closed connection or a 502 instead."""

    def __init__(self, app: ASGIApp, knobs: Knobs, respond: ErrorResponder) -> None:
        self.app, self.knobs, self.respond = app, knobs, respond

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = LOSABLE_OPERATIONS.get(self.knobs.lost_answers_of)
        if scope["type"] != "http" or scope["path"] != path or not self.knobs.count_down("lost_answers"):
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, discard)
        if self.knobs.lost_answer_as == BAD_GATEWAY:
            await self.respond(502, "Bad Gateway")(scope, receive, send)
        else:
            await close_without_answer(receive)
