"""Asynchronous twin of the hook for triggers: reads an image's JSON with aiohttp."""

from __future__ import annotations

import json

import aiohttp
from airflow.sdk import BaseHook
from airflow.sdk.log import amask_secret

from clippingmagic.connection import ClippingMagicSettings, settings_from_connection
from clippingmagic.exceptions import ClippingMagicError, error_for, parse_error_json
from clippingmagic.models import JSON, ClippingMagicImage


class ClippingMagicAsyncHook(BaseHook):
    """
    The read-only calls a trigger needs, without blocking the triggerer's event loop.

    It makes one request per call and raises the same typed errors as ``ClippingMagicHook``; the caller
    (a polling trigger) decides when to ask again.
    """

    conn_name_attr = "clippingmagic_conn_id"
    default_conn_name = "clippingmagic_default"
    conn_type = "clippingmagic"
    hook_name = "Clipping Magic"

    def __init__(self, clippingmagic_conn_id: str = default_conn_name, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clippingmagic_conn_id = clippingmagic_conn_id
        self._settings: ClippingMagicSettings | None = None

    async def get_settings(self) -> ClippingMagicSettings:
        if self._settings is None:
            connection = await self.aget_connection(self.clippingmagic_conn_id)
            self._settings = settings_from_connection(connection)
            await amask_secret(self._settings.api_key)
        return self._settings

    async def get_image(self, image_id: int, session: aiohttp.ClientSession | None = None) -> ClippingMagicImage:
        """The Image JSON Object (``format=json``, free of charge), without its secret."""
        settings = await self.get_settings()
        url = f"{settings.api_url}/images/{int(image_id)}"
        if session is not None:
            return await self._get_image(session, settings, url)
        async with aiohttp.ClientSession() as own_session:
            return await self._get_image(own_session, settings, url)

    async def _get_image(
        self, session: aiohttp.ClientSession, settings: ClippingMagicSettings, url: str
    ) -> ClippingMagicImage:
        async with session.get(
            url,
            params={"format": JSON},
            auth=aiohttp.BasicAuth(settings.api_id, settings.api_key),
            timeout=aiohttp.ClientTimeout(total=settings.timeout),
        ) as response:
            text = await response.text()
            if response.status >= 400:
                raise error_for(response.status, *parse_error_json(response.status, text))
            try:
                image = dict(json.loads(text)["image"])
            except (ValueError, KeyError, TypeError) as error:
                raise ClippingMagicError(f"unexpected answer for {url}: {error}", status=response.status) from error
            image.pop("secret", None)  # a trigger never needs it; dropping it keeps it out of events and logs
            return ClippingMagicImage.from_json(image)
