"""Reading untrusted image sources with limits: a byte cap, a total deadline, and (for http) no way into the
deployment's own network.

http(s): redirects are followed by hand (at most `MAX_REDIRECTS`), every hop's host is checked against the
policy before connecting, and every connection's peer address is checked again once connected, so a DNS
answer that changes between the check and the connection (DNS rebinding) cannot slip through. Reads return as
soon as bytes arrive and the deadline is checked between them, so a server that drips one byte at a time
cannot hold a worker longer than the deadline. Proxies from the environment are not used: through a proxy
the peer check would see the proxy, not the image host.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from vehicle_photos.image_common.policy import SourceNotAllowedError, SourcePolicy
from vehicle_photos.image_common.s3_objects import error_text, get_object, is_invalid_range
from vehicle_photos.image_common.sources import ImageSource
from vehicle_photos.image_common.urls import redact_url

MAX_REDIRECTS = 5
CHUNK_BYTES = 256 * 1024
_CONNECT_TIMEOUT = 10.0


class SourceFetchError(Exception):
    """The source could not be read within the limits (its message is the reason shown in the manifest)."""


@dataclass(frozen=True)
class FetchedSource:
    size: int
    content_type: str | None
    sha256: str
    etag: str | None = None  # an S3 object's ETag, as the read answered it: the version that was read


def guarded_session(policy: SourcePolicy, pool_size: int = 16) -> requests.Session:
    """A requests session that refuses to connect to addresses the policy does not allow."""
    session = requests.Session()
    session.trust_env = False
    adapter = _GuardedAdapter(policy, pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@contextmanager
def open_url(
    session: requests.Session, url: str, policy: SourcePolicy, method: str = "GET", deadline: float | None = None
) -> Iterator[requests.Response]:
    """An open (streaming) response for `url` after following checked redirects; raises SourceFetchError for
    an error status and SourceNotAllowedError for a forbidden host."""
    deadline = deadline or time.monotonic() + policy.deadline_seconds
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourceNotAllowedError(f"redirected to an unsupported location {redact_url(url)!r}")
        policy.check_host(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        try:
            response = session.request(
                method, url, stream=True, allow_redirects=False, timeout=(_CONNECT_TIMEOUT, _remaining(deadline))
            )
        except requests.RequestException as error:
            raise SourceFetchError(f"{redact_url(url)}: {type(error).__name__}") from None
        if response.is_redirect and response.headers.get("Location"):
            url = urljoin(url, response.headers["Location"])
            response.close()
            continue
        if response.status_code >= 400:
            response.close()
            raise SourceFetchError(f"{redact_url(url)} answered HTTP {response.status_code}")
        try:
            yield response
        finally:
            response.close()
        return
    raise SourceFetchError(f"more than {MAX_REDIRECTS} redirects from {redact_url(url)}")


def head_url(session: requests.Session, url: str, policy: SourcePolicy) -> dict[str, str]:
    """The response headers of a HEAD request (validators, type, length); lower-case names."""
    with open_url(session, url, policy, method="HEAD") as response:
        return {name.lower(): value for name, value in response.headers.items()}


def fetch_url(session: requests.Session, url: str, policy: SourcePolicy, out: IO[bytes]) -> FetchedSource:
    """Stream the body into `out` within the byte cap and the deadline."""
    deadline = time.monotonic() + policy.deadline_seconds
    with open_url(session, url, policy, deadline=deadline) as response:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > policy.max_bytes:
            raise SourceFetchError(f"{redact_url(url)} is {_mb(int(declared))}, over the {_mb(policy.max_bytes)} limit")
        chunks = _drip_safe_chunks(response.raw, deadline, url)
        return _copy_bounded(chunks, out, policy.max_bytes, redact_url(url), response.headers.get("Content-Type"))


def fetch_s3(
    s3_client: Any, source: ImageSource, policy: SourcePolicy, out: IO[bytes], if_match: str | None = None
) -> FetchedSource:
    """Stream an S3 object into `out` within the byte cap and the deadline; with `if_match`, only the version
    with that ETag (SourceFetchError when the key holds another one: uploaded again since it was identified)."""
    deadline = time.monotonic() + policy.deadline_seconds
    try:
        body = get_object(s3_client, source.bucket, source.key, if_match)
    except Exception as error:  # botocore's ClientError and connection errors alike: the source is unreadable
        raise SourceFetchError(f"{source}: {error_text(error)}") from None
    if body["ContentLength"] > policy.max_bytes:
        body["Body"].close()
        raise SourceFetchError(f"{source} is {_mb(body['ContentLength'])}, over the {_mb(policy.max_bytes)} limit")

    def chunks() -> Iterator[bytes]:
        for chunk in body["Body"].iter_chunks(CHUNK_BYTES):
            if time.monotonic() > deadline:
                raise SourceFetchError(f"{source} took longer than {policy.deadline_seconds:.0f} s to read")
            yield chunk

    fetched = _copy_bounded(chunks(), out, policy.max_bytes, str(source), body.get("ContentType"))
    return replace(fetched, etag=str(body.get("ETag") or "").strip('"') or None)


@dataclass(frozen=True)
class S3Range:
    content: bytes  # bytes `first..last` (inclusive), fewer at the object's end
    size: int  # the object's total size
    version_id: str | None  # the version read, in a versioned bucket (None otherwise)


def read_s3_range(s3_client: Any, source: ImageSource, first: int, last: int, if_match: str | None = None) -> S3Range:
    """Bytes `first..last` of an S3 object (of the version `if_match` names, when given)."""
    try:
        answer = get_object(s3_client, source.bucket, source.key, if_match, Range=f"bytes={first}-{last}")
    except Exception as error:
        if is_invalid_range(error):  # an empty object has no byte 0
            return S3Range(b"", 0, None)
        raise SourceFetchError(f"{source}: {error_text(error)}") from None
    content_range = answer.get("ContentRange") or ""
    total = content_range.rpartition("/")[2]
    version = answer.get("VersionId")
    size = int(total) if total.isdigit() else answer["ContentLength"]
    return S3Range(answer["Body"].read(), size, version if version and version != "null" else None)


def _copy_bounded(
    chunks: Iterator[bytes], out: IO[bytes], max_bytes: int, shown: str, content_type: str | None
) -> FetchedSource:
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise SourceFetchError(f"{shown} is larger than the {_mb(max_bytes)} limit")
        digest.update(chunk)
        out.write(chunk)
    return FetchedSource(size=size, content_type=content_type, sha256=digest.hexdigest())


def _drip_safe_chunks(raw: Any, deadline: float, url: str) -> Iterator[bytes]:
    """`read1` returns as soon as some bytes are there, so the deadline is checked however slowly they come."""
    while True:
        if time.monotonic() > deadline:
            raise SourceFetchError(f"{redact_url(url)} took longer than the time limit to download")
        try:
            chunk = raw.read1(CHUNK_BYTES, decode_content=True)
        except Exception as error:  # timeouts and resets surface as urllib3 / OSError types
            raise SourceFetchError(f"{redact_url(url)}: {type(error).__name__} while downloading") from None
        if not chunk:
            return
        yield chunk


def _remaining(deadline: float) -> float:
    return max(0.1, deadline - time.monotonic())


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


class _GuardedAdapter(HTTPAdapter):
    def __init__(self, policy: SourcePolicy, **kwargs: Any) -> None:
        self.policy = policy
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _guarded_pools(self.policy)


def check_peer(policy: SourcePolicy, sock: socket.socket, hostname: str) -> socket.socket:
    """The connected socket if the policy allows the address it reached (a v4-mapped peer such as
    `::ffff:10.0.0.1` is judged as 10.0.0.1); else it is closed and SourceNotAllowedError raised."""
    try:
        policy.check_address(ipaddress.ip_address(sock.getpeername()[0].split("%")[0]), hostname)
    except SourceNotAllowedError:
        sock.close()
        raise
    return sock


def _guarded_pools(policy: SourcePolicy) -> dict[str, type]:
    def checked(connection: HTTPConnection, sock: Any) -> Any:
        return check_peer(policy, sock, connection.host)

    class GuardedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> Any:
            return checked(self, super()._new_conn())

    class GuardedHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> Any:
            return checked(self, super()._new_conn())

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    return {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}
