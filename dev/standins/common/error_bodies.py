"""`--error-body`: error answers that are not the API's JSON, as a proxy, a load balancer or a crashed
backend in front of the real service sends them (both documents warn of them). Applies to every API error
answer (refusals, injected 5xx and 429), never to the emulator endpoints or to Clipping Magic's storage."""

from __future__ import annotations

from http import HTTPStatus

from fastapi.responses import Response

from dev.standins import guesses
from dev.standins.common.knobs import Knob

JSON = "json"
ERROR_BODY_STYLES = (JSON, "html", "text", "empty")

ERROR_BODY_KNOB = Knob(
    "error_body",
    str,
    JSON,
    "body of every API error: the documented JSON, an HTML page (mislabelled charset), plain text, or nothing",
    choices=ERROR_BODY_STYLES,
)


def non_json_error(style: str, status: int, target: str | None = None) -> Response | None:
    """The error answer of `style` (None for "json": the API answers its own body). `target` is the request's
    path and query, which a proxy's page may repeat (signatures included)."""
    if style == JSON:
        return None
    reason = _reason(status)
    shown = target or "/"
    if style == "empty":
        return Response(b"", status_code=status)
    if style == "text":
        return Response(guesses.ERROR_BODY_TEXT.format(status=status, reason=reason, target=shown),
                        status_code=status, media_type="text/plain")  # fmt: skip
    page = guesses.ERROR_BODY_HTML.format(status=status, reason=reason, target=shown)
    # Labelled UTF-8 but written in Latin-1, as old proxies do: a strict decoder fails on it.
    return Response(page.encode("latin-1", "replace"), status_code=status,
                    headers={"Content-Type": "text/html; charset=utf-8"})  # fmt: skip


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
