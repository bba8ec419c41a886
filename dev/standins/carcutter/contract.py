"""Knobs for the Car-Cutter answers the documents leave open, each defaulting to the strict or documented one
(`guesses.py`, "First contact"), and what they change: where fields are read, the URL echo, the URI limit."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from dev.standins import guesses
from dev.standins.carcutter.forms import FORM, MULTIPART
from dev.standins.common.error_bodies import ERROR_BODY_KNOB
from dev.standins.common.faults import EMULATOR_PREFIX, ErrorResponder
from dev.standins.common.knobs import Knob, Knobs

EXACT = "exact"

CONTRACT_KNOBS: tuple[Knob, ...] = (
    ERROR_BODY_KNOB,
    Knob(
        "feature_params_in",
        str,
        FORM,
        "feature / annotation GETs and DELETEs read their field from a multipart body (form, documented), from the"
        " query refusing a body (query), or from the query ignoring a body (query-ignoring-body)",
        choices=guesses.CC_FEATURE_PARAMS_IN,
    ),
    Knob(
        "webhooks_enabled", bool, guesses.CC_WEBHOOKS_ENABLED, "the account has a webhook target: webhook_url is called"
    ),
    Knob(
        "status_url_echo",
        str,
        EXACT,
        "status entries name their image by the URL as submitted (exact) or normalised",
        choices=guesses.CC_STATUS_URL_ECHO,
    ),
    Knob(
        "result_body",
        str,
        guesses.CC_RESULT_BODIES[0],
        "a 200 result download carries the image, an HTML page (text/html) or an empty body; a synchronous call"
        " answers the page's base64 or nothing",
        choices=guesses.CC_RESULT_BODIES,
    ),
    Knob(
        "max_request_target",
        int,
        guesses.CC_MAX_REQUEST_TARGET,
        "requests whose path and query are longer (bytes) answer 414 (0 = no limit)",
    ),
)


def feature_fields_place(knobs: Knobs) -> str:
    """Where the feature and annotation GETs / DELETEs read their field (a `forms` reading)."""
    return MULTIPART if knobs.feature_params_in == FORM else knobs.feature_params_in


def echoed_url(url: str, knobs: Knobs) -> str:
    """The URL as status entries name it: exactly as submitted, or normalised as re-serialising frameworks do."""
    if knobs.status_url_echo == EXACT:
        return url
    parts = urlsplit(url)
    pairs = sorted(parse_qsl(parts.query, keep_blank_values=True))
    query = "&".join(f"{quote(key, safe='/:')}={quote(value, safe='/:')}" for key, value in pairs)
    path = quote(unquote(parts.path), safe="/:")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, query, ""))


class RequestTargetLimit:
    """ASGI middleware: a request whose path and query exceed `max_request_target` bytes answers 414 before
    anything is read or done (as a front server's request line limit does)."""

    def __init__(self, app: ASGIApp, knobs: Knobs, respond: ErrorResponder) -> None:
        self.app, self.knobs, self.respond = app, knobs, respond

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.knobs.max_request_target
        if scope["type"] == "http" and limit and not scope["path"].startswith(EMULATOR_PREFIX):
            query = scope.get("query_string", b"")
            length = len(scope.get("raw_path") or scope["path"].encode()) + (len(query) + 1 if query else 0)
            if length > limit:
                await self.respond(414, guesses.CC_URI_TOO_LONG_MESSAGE)(scope, receive, send)
                return
        await self.app(scope, receive, send)
