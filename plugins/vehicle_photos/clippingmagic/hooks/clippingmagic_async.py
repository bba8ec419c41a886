"""`ClippingMagicAsyncHook`: the aiohttp twin of `ClippingMagicHook` for the calls a trigger makes."""

from __future__ import annotations

import json

import aiohttp
from airflow.sdk import BaseHook
from airflow.sdk.log import amask_secret

from vehicle_photos.clippingmagic.exceptions import API, ApiError, TransportError, error_from_response
from vehicle_photos.clippingmagic.hooks.clippingmagic import ACCEPT_JSON
from vehicle_photos.clippingmagic.utils.connection import (
    DEFAULT_CONN_ID,
    ClippingMagicConnectionType,
    ClippingMagicSettings,
)
from vehicle_photos.clippingmagic.utils.models import JSON, ClippingMagicImage
from vehicle_photos.image_common.api_errors import decode_body
from vehicle_photos.image_common.api_metrics import count_api_call


class ClippingMagicAsyncHook(ClippingMagicConnectionType, BaseHook):
    """Use as `async with ClippingMagicAsyncHook(conn_id) as hook:`, which holds one aiohttp session.

    Every call is one request and raises the typed errors of `clippingmagic.exceptions`; the caller (a polling
    trigger) decides when to ask again, and how long to back off after a 429.

    :param max_connections: HTTP connections the session may hold open at once.
    """

    settings: ClippingMagicSettings | None = None
    _session: aiohttp.ClientSession | None = None

    def __init__(self, clippingmagic_conn_id: str = DEFAULT_CONN_ID, max_connections: int = 5) -> None:
        super().__init__()
        self.clippingmagic_conn_id, self.max_connections = clippingmagic_conn_id, max_connections

    async def __aenter__(self) -> ClippingMagicAsyncHook:
        self.settings = ClippingMagicSettings.from_connection(await self.aget_connection(self.clippingmagic_conn_id))
        await amask_secret(self.settings.api_key)
        self._session = aiohttp.ClientSession(
            auth=aiohttp.BasicAuth(*self.settings.auth),
            headers={"Accept": ACCEPT_JSON},
            connector=aiohttp.TCPConnector(limit=self.max_connections),
            timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = None

    async def get_image(self, image_id: int) -> ClippingMagicImage:
        """The Image JSON Object (`format=json`, free), without its secret: a trigger never needs it, and
        leaving it out keeps it out of events and logs."""
        if self.settings is None or self._session is None:
            raise RuntimeError("use ClippingMagicAsyncHook inside 'async with'")
        path = f"/images/{int(image_id)}"
        try:
            async with self._session.get(f"{self.settings.api_url}{path}", params={"format": JSON}) as response:
                body = decode_body(await response.read(), response.charset)
        except (TimeoutError, aiohttp.ClientError) as error:
            never_sent = isinstance(error, aiohttp.ClientConnectorError)
            raise TransportError(API, f"{type(error).__name__} on {path}", sent=not never_sent) from None
        count_api_call("clippingmagic", response.status)
        if response.status >= 400:
            raise error_from_response(response.status, body, secret=self.settings.api_key)
        try:
            return ClippingMagicImage.from_json(json.loads(body)["image"], keep_secret=False)
        except (ValueError, KeyError, TypeError):
            raise ApiError(API, f"the answer for {path} is not an Image JSON Object", status=response.status) from None
