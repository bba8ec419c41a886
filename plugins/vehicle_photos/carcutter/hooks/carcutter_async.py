"""`CarCutterAsyncHook`: the aiohttp twin of `CarCutterHook` for the calls a trigger makes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import TracebackType

import aiohttp
from airflow.sdk import BaseHook
from tenacity import AsyncRetrying
from yarl import URL

from vehicle_photos.carcutter.exceptions import API, ApiError, NotFoundError, TransportError, error_from_response
from vehicle_photos.carcutter.utils import paths
from vehicle_photos.carcutter.utils.connection import CarCutterSettings
from vehicle_photos.carcutter.utils.retries import retry_arguments
from vehicle_photos.carcutter.utils.statuses import UNKNOWN, ImageStatus, parse_status_response, status_query

_CONNECT_TIMEOUT = 10.0


class CarCutterAsyncHook(BaseHook):
    """Use as `async with CarCutterAsyncHook(conn_id) as hook:`; the session is closed on exit.

    :param max_connections: HTTP connections the session may hold open at once.
    """

    conn_name_attr = "carcutter_conn_id"
    default_conn_name = "carcutter_default"
    conn_type = "carcutter"
    hook_name = "Car-Cutter"

    def __init__(self, carcutter_conn_id: str = default_conn_name, max_connections: int = 8) -> None:
        super().__init__()
        self.carcutter_conn_id = carcutter_conn_id
        self.max_connections = max_connections
        self.settings: CarCutterSettings | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> CarCutterAsyncHook:
        connection = await self.aget_connection(self.carcutter_conn_id)
        self.settings = CarCutterSettings.from_connection(connection)
        self._session = aiohttp.ClientSession(
            headers={**self.settings.auth_header, "Accept": "application/json"},
            connector=aiohttp.TCPConnector(limit=self.max_connections),
            timeout=aiohttp.ClientTimeout(total=None, connect=_CONNECT_TIMEOUT, sock_read=self.settings.timeout),
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get_image_statuses(self, image_urls: Sequence[str]) -> list[ImageStatus]:
        """Statuses of `image_urls` in one request (the caller keeps the URL within its length limit; a 404
        for several URLs is narrowed down by halves, as the sync hook does); retried with backoff on 5xx, 429,
        timeouts and dropped connections."""
        if not image_urls:
            return []
        if self.settings is None or self._session is None:
            raise RuntimeError("use CarCutterAsyncHook inside 'async with'")
        # encoded=True: the query is already escaped exactly as the sync hook escapes it
        url = URL(f"{self.settings.base_url}{paths.ASYNC_STATUS}?{status_query(image_urls)}", encoded=True)
        retrying = AsyncRetrying(**retry_arguments(self.settings, idempotent=True, log=self.log))
        try:
            return await retrying(self._get_json, self._session, self.settings, url)
        except NotFoundError:
            if len(image_urls) == 1:
                return [ImageStatus(image=image_urls[0], status=UNKNOWN)]
            middle = len(image_urls) // 2
            return await self.get_image_statuses(image_urls[:middle]) + await self.get_image_statuses(
                image_urls[middle:]
            )

    @staticmethod
    async def _get_json(session: aiohttp.ClientSession, settings: CarCutterSettings, url: URL) -> list[ImageStatus]:
        try:
            async with session.get(url) as response:
                body = await response.text()
        except (TimeoutError, aiohttp.ClientError) as error:
            never_sent = isinstance(error, aiohttp.ClientConnectorError)
            raise TransportError(API, f"{type(error).__name__} on {url.path}", sent=not never_sent) from None
        if response.status >= 400:
            raise error_from_response(response.status, body, secret=settings.token)
        try:
            return parse_status_response(json.loads(body))
        except ValueError:
            raise ApiError(API, "the status answer is not JSON", status=response.status) from None
