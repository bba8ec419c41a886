"""What a Car-Cutter connection means: base URL, token, timeouts and retry policy (shared by both hooks)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from carcutter.exceptions import CarCutterConfigError

DEFAULT_BASE_URL = "https://api.car-cutter.com"
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 4
DEFAULT_RETRY_WAIT_MIN = 0.5
DEFAULT_RETRY_WAIT_MAX = 30.0


@dataclass(frozen=True)
class CarCutterSettings:
    base_url: str
    token: str = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_wait_min: float = DEFAULT_RETRY_WAIT_MIN
    retry_wait_max: float = DEFAULT_RETRY_WAIT_MAX
    customer: str | None = None

    @classmethod
    def from_connection(cls, conn: Any) -> CarCutterSettings:
        """Build from an Airflow connection: token in the password, host (with or without scheme) and port,
        options in the extra (`timeout`, `max_retries`, `retry_wait_min`, `retry_wait_max`, `customer`)."""
        if not conn.password:
            raise CarCutterConfigError(f"connection {conn.conn_id!r} has no API token in its password field")
        extra = conn.extra_dejson or {}

        def option(name: str, default: Any) -> Any:
            # form fields may be stored plain or prefixed (older Airflow forms)
            value = extra.get(name, extra.get(f"extra__carcutter__{name}"))
            return default if value in (None, "") else value

        return cls(
            base_url=base_url_of(conn.host, conn.port, conn.schema),
            token=conn.password,
            timeout=float(option("timeout", DEFAULT_TIMEOUT)),
            max_retries=int(option("max_retries", DEFAULT_MAX_RETRIES)),
            retry_wait_min=float(option("retry_wait_min", DEFAULT_RETRY_WAIT_MIN)),
            retry_wait_max=float(option("retry_wait_max", DEFAULT_RETRY_WAIT_MAX)),
            customer=option("customer", None),
        )

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}


def base_url_of(host: str | None, port: int | None = None, scheme: str | None = None) -> str:
    """`https://api.car-cutter.com` unless the connection names another host; plain http only on loopback."""
    if not host:
        return DEFAULT_BASE_URL
    parts = urlsplit(host if "://" in host else f"{scheme or 'https'}://{host}")
    if parts.scheme not in {"http", "https"}:
        raise CarCutterConfigError(f"unsupported scheme {parts.scheme!r} for the Car-Cutter host")
    hostname = parts.hostname or ""
    if parts.scheme == "http" and not is_loopback(hostname):
        raise CarCutterConfigError(f"refusing plain http to {hostname}: the token would travel unencrypted (use https)")
    netloc = parts.netloc if parts.port or not port else f"{parts.netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False
