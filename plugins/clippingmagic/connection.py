"""Reading a Clipping Magic Airflow connection: credentials and a base URL that is safe to send them to."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from airflow.sdk import Connection

DEFAULT_BASE_URL = "https://clippingmagic.com"
API_PATH = "/api/v1"
DEFAULT_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class ClippingMagicSettings:
    api_id: str
    api_key: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    @property
    def api_url(self) -> str:
        return f"{self.base_url}{API_PATH}"


def settings_from_connection(conn: Connection) -> ClippingMagicSettings:
    """API id from login, API key from password, base URL from host (+ schema and port), timeout from extra."""
    if not conn.login or not conn.password:
        raise ValueError(f"connection {conn.conn_id!r} needs the API id as login and the API key as password")
    extra = conn.extra_dejson
    timeout = float(extra.get("timeout") or extra.get("extra__clippingmagic__timeout") or DEFAULT_TIMEOUT_SECONDS)
    return ClippingMagicSettings(
        api_id=str(conn.login),
        api_key=str(conn.password),
        base_url=base_url_from(conn.host, conn.schema, conn.port),
        timeout=timeout,
    )


def base_url_from(host: str | None, schema: str | None = None, port: int | None = None) -> str:
    """`https://clippingmagic.com` unless told otherwise; plain http only to this machine's loopback."""
    if not host:
        return DEFAULT_BASE_URL
    if "://" not in host:
        host = f"{schema or 'https'}://{host}"
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"Clipping Magic host must be an http(s) URL, got {host!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(f"refusing plain http to {parts.hostname}: the API key would travel unencrypted; use https")
    netloc = parts.netloc if parts.port or not port else f"{parts.netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False
