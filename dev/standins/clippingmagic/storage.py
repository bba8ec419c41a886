"""The result storage the download endpoint redirects to (Amazon S3 for the real service).

A link is an unguessable token standing in for an S3 signature; it needs no API credentials, refuses them
(`--storage-refuses-credentials`) and expires (`--storage-link-seconds`), answering S3's XML errors.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from dev.standins import guesses
from dev.standins.clippingmagic.store import ImageStore
from dev.standins.common.accept import admits
from dev.standins.common.knobs import Knobs


@dataclass(frozen=True)
class StorageLink:
    image_id: int
    revision: int
    fmt: str
    created_at: float = field(default_factory=time.monotonic)


class StorageLinks:
    def __init__(self) -> None:
        self.links: dict[str, StorageLink] = {}

    def create(self, link: StorageLink) -> str:
        token = secrets.token_urlsafe(24)
        self.links[token] = link
        return f"{guesses.CM_STORAGE_PREFIX}/{token}"

    def reset(self) -> None:
        self.links.clear()


def storage_router(links: StorageLinks, store: ImageStore, knobs: Knobs) -> APIRouter:
    router = APIRouter(prefix=guesses.CM_STORAGE_PREFIX)

    @router.get("/{token}", name="storage")
    async def fetch_stored_result(token: str, request: Request) -> Response:
        link = links.links.get(token)
        image = store.images.get(link.image_id) if link else None
        if knobs.storage_refuses_credentials and request.headers.get("authorization"):
            return Response(guesses.CM_STORAGE_TWO_AUTH_MECHANISMS, status_code=400, media_type="application/xml")
        if link is not None and time.monotonic() - link.created_at > knobs.storage_link_seconds:
            return Response(guesses.CM_STORAGE_EXPIRED, status_code=403, media_type="application/xml")
        if link is None or image is None:
            return PlainTextResponse(guesses.CM_STORAGE_NOT_FOUND, status_code=404)
        media_type = image.media_type(link.revision, link.fmt)
        if knobs.strict_accept and not admits(request, media_type):
            return PlainTextResponse(guesses.CM_STORAGE_NOT_ACCEPTABLE.format(media_type=media_type), status_code=406)
        if knobs.storage_bad_body:
            body = guesses.CM_STORAGE_HTML_PAGE if knobs.storage_bad_body == "html" else b""
            return Response(body, media_type="text/html" if body else None)
        rendered = await asyncio.to_thread(image.render, link.revision, link.fmt, knobs.fast)
        return Response(
            rendered.body,
            media_type=rendered.media_type,
            headers=result_headers(link.revision, rendered.filename),
        )

    return router


def result_headers(revision: int, filename: str) -> dict[str, str]:
    return {
        "x-amz-meta-resultrevision": str(revision),
        "Content-Disposition": f'attachment; filename="{filename}"',
    }
