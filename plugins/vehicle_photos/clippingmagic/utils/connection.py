"""What a Clipping Magic connection means: credentials, a base URL that is safe to send them to, the request
timeout and the retry rules (both hooks read it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vehicle_photos.clippingmagic.exceptions import API, ConfigError
from vehicle_photos.clippingmagic.utils.retries import RetryRules
from vehicle_photos.image_common.urls import api_base_url

DEFAULT_CONN_ID = "clippingmagic_default"
DEFAULT_BASE_URL = "https://clippingmagic.com"
API_PATH = "/api/v1"
DEFAULT_TIMEOUT_SECONDS = 120.0


class ClippingMagicConnectionType:
    """What both hooks tell Airflow about the connection type they use."""

    conn_name_attr = "clippingmagic_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "clippingmagic"
    hook_name = "Clipping Magic"


@dataclass(frozen=True)
class ClippingMagicSettings:
    """The connection, read: `auth` is the basic-auth pair (API id, API key), `api_url` is where requests go,
    `retry` says when a failed one is repeated."""

    auth: tuple[str, str] = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    retry: RetryRules = field(default_factory=RetryRules)

    @property
    def api_key(self) -> str:
        return self.auth[1]

    @property
    def api_url(self) -> str:
        return f"{self.base_url}{API_PATH}"

    @classmethod
    def from_connection(cls, conn: Any) -> ClippingMagicSettings:
        """API id from the login, API key from the password, base URL from the host (a URL or a host name,
        with the connection's schema and port); the extra may set `timeout` and the retry rules
        (`max_attempts`, `retry_wait_min`, `retry_wait_max`, `rate_limit_wait`, `max_rate_limit_waits`)."""
        if not conn.login or not conn.password:
            raise ConfigError(API, f"connection {conn.conn_id!r} needs the API id as login and the API key as password")
        # Older connection forms stored their fields with a prefix.
        extra = {key.removeprefix("extra__clippingmagic__"): value for key, value in (conn.extra_dejson or {}).items()}
        try:
            base_url = api_base_url(conn.host, conn.port, conn.schema, default=DEFAULT_BASE_URL, api=API)
            retry = RetryRules.from_extra(extra)
            timeout = float(extra.get("timeout") or DEFAULT_TIMEOUT_SECONDS)
        except ValueError as error:
            raise ConfigError(API, f"connection {conn.conn_id!r}: {error}") from None
        return cls((str(conn.login), str(conn.password)), base_url, timeout, retry)
