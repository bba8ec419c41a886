"""How the probe reads an answer without trusting its shape: the kind of error body, the difference between a
URL asked and the URL echoed (described without showing either), whether an answer lists an id."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import requests

from vehicle_photos.carcutter.utils.statuses import canonical_url

JSON_NESTED = 'the JSON error object under "error"'
JSON_FLAT = "a flat JSON error object"


def json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def error_body_kind(response: requests.Response) -> str:
    """What an error answer's body is: the API's JSON error object (nested or flat), other JSON, an HTML page,
    plain text or nothing."""
    body = response.content
    if not body.strip():
        return "an empty body"
    try:
        payload = json.loads(body)
    except ValueError:
        text = body[:200].decode("latin-1").lower()
        return "an HTML page" if "<html" in text or "<!doctype" in text else "plain text"
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict) and "message" in payload["error"]:
        return JSON_NESTED
    if isinstance(payload, dict) and "message" in payload:
        return JSON_FLAT
    return "JSON without a message"


def is_json_error(kind: str) -> bool:
    return kind in (JSON_NESTED, JSON_FLAT)


def url_difference(asked: str, echoed: str) -> str:
    """How `echoed` differs from `asked`, in words that contain neither URL (a presigned URL is a secret)."""
    if echoed == asked:
        return "byte for byte"
    if canonical_url(echoed) != canonical_url(asked):
        return "a different URL (not the same once normalised)"
    ways = []
    asked_parts, echoed_parts = urlsplit(asked), urlsplit(echoed)
    if asked_parts.netloc != echoed_parts.netloc or asked_parts.scheme != echoed_parts.scheme:
        ways.append("scheme or host case")
    asked_keys = [key for key, _ in parse_qsl(asked_parts.query, keep_blank_values=True)]
    echoed_keys = [key for key, _ in parse_qsl(echoed_parts.query, keep_blank_values=True)]
    if asked_keys != echoed_keys:
        ways.append("query parameters reordered")
    if unquote(asked_parts.path) == unquote(echoed_parts.path) and asked_parts.path != echoed_parts.path:
        ways.append("path percent-encoding")
    if sorted(asked_parts.query.split("&")) != sorted(echoed_parts.query.split("&")):
        ways.append("query percent-encoding")
    return "normalised (" + ", ".join(ways or ["encoding"]) + ")"
