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
from vehicle_photos.carcutter.utils.statuses import (
    ApiStatus,
    ImageStatus,
    in_asked_order,
    lowered_url_limit,
    match_statuses,
    parse_status_response,
    status_query,
    unanswered_ambiguous,
)
from vehicle_photos.image_common.api_errors import RequestTooLongError, decode_body
from vehicle_photos.image_common.api_metrics import count_api_call
from vehicle_photos.image_common.urls import redact_url

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
        # once Car-Cutter refused a status request as too long (414): the longest URL to ask with from then on
        self.status_url_limit: int | None = None

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
        """Statuses of `image_urls`, one per URL in the order asked, each carrying the URL exactly as asked (as
        the sync hook does). The caller keeps the URL within its length limit (and `status_url_limit`); a 404
        or 414 for several URLs is narrowed down by halves, URLs sharing a canonical form that Car-Cutter
        echoes normalised are asked about one by one. Retried with backoff on 5xx, 429, timeouts and dropped
        connections."""
        urls = list(image_urls)
        if not urls:
            return []
        if self.settings is None or self._session is None:
            raise RuntimeError("use CarCutterAsyncHook inside 'async with'")
        single = len(set(urls)) == 1
        # encoded=True: the query is already escaped exactly as the sync hook escapes it
        url = URL(f"{self.settings.base_url}{paths.ASYNC_STATUS}?{status_query(urls)}", encoded=True)
        retrying = AsyncRetrying(**retry_arguments(self.settings, idempotent=True, log=self.log))
        try:
            matched = match_statuses(urls, await retrying(self._get_statuses, self._session, self.settings, url))
        except NotFoundError:
            if single:
                return [ImageStatus(image=url, status=ApiStatus.UNKNOWN) for url in urls]
            return await self._in_halves(urls)
        except RequestTooLongError:
            base_url = self.settings.base_url
            self.status_url_limit = lowered_url_limit(self.status_url_limit, base_url, paths.ASYNC_STATUS, urls)
            if single:
                self.log.warning("Car-Cutter refuses to be asked about %s: too long a URL", redact_url(urls[0]))
                return []
            return await self._in_halves(urls)
        if not single:
            for alone in unanswered_ambiguous(urls, matched):
                matched.extend(await self.get_image_statuses([alone]))
        return in_asked_order(urls, matched)

    async def _in_halves(self, urls: list[str]) -> list[ImageStatus]:
        middle = len(urls) // 2
        return await self.get_image_statuses(urls[:middle]) + await self.get_image_statuses(urls[middle:])

    @staticmethod
    async def _get_statuses(session: aiohttp.ClientSession, settings: CarCutterSettings, url: URL) -> list[ImageStatus]:
        try:
            async with session.get(url) as response:
                body = decode_body(await response.read(), response.charset)
        except (TimeoutError, aiohttp.ClientError) as error:
            never_sent = isinstance(error, aiohttp.ClientConnectorError)
            raise TransportError(API, f"{type(error).__name__} on {url.path}", sent=not never_sent) from None
        count_api_call("carcutter", response.status)
        if response.status >= 400:
            raise error_from_response(response.status, body, secret=settings.token)
        try:
            return parse_status_response(json.loads(body))
        except ValueError:
            raise ApiError(API, "the status answer is not JSON", status=response.status) from None
