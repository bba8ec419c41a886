"""`--strict-accept`: does a request's Accept header admit the media type of the file a call returns?"""

from __future__ import annotations

from starlette.requests import Request
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header


def admits(request: Request, media_type: str) -> bool:
    """No Accept header (or an empty one) admits anything; otherwise HTTP's media-range rules, q=0 included."""
    header = request.headers.get("accept", "").strip()
    if not header:
        return True
    return parse_accept_header(header, MIMEAccept).best_match([media_type]) is not None
