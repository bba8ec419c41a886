"""URLs as people may see them, and the base URL of an API connection."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from vehicle_photos.image_common.addresses import is_loopback


def redact_url(url: str) -> str:
    """The URL without user info, query string and fragment: signatures and tokens never reach logs, XCom,
    records, manifests or reports. `s3://` URIs and plain text pass through unchanged."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return url
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    redacted = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return redacted + ("?…" if parts.query else "")


def is_loopback_host(hostname: str) -> bool:
    """localhost, 127.0.0.0/8, ::1 or `::ffff:127.x.y.z`; never a NAT64 or tunnel form, which leaves the machine."""
    if hostname == "localhost":
        return True
    try:
        return is_loopback(ipaddress.ip_address(hostname.strip("[]")))
    except ValueError:
        return False


def api_base_url(host: str | None, port: int | None, schema: str | None, *, default: str, api: str) -> str:
    """The base URL an API connection points at: `default` unless the connection names a host (a full URL or
    a bare host name, with `schema` and `port` from the connection). Plain http is refused for anything but
    loopback, because the credentials would travel unencrypted."""
    if not host:
        return default
    parts = urlsplit(host if "://" in host else f"{schema or 'https'}://{host}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"the {api} host must be an http(s) URL or a host name, got {redact_url(host)!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(f"refusing plain http to {parts.hostname}: the {api} credentials would travel unencrypted")
    netloc = parts.netloc if parts.port or not port else f"{parts.netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"
