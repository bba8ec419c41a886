"""What the pipeline may fetch and how much of it: the rules for untrusted image sources.

Listing files are written by dealers, so every image reference in them is untrusted:
- an `s3://` reference is read (and presigned for Car-Cutter) with the deployment's own credentials, so only
  buckets named in `allowed_buckets` may be used (by default the listing bucket);
- an http(s) URL must not lead our workers into the deployment's own network (SSRF): its host must resolve to
  public addresses only, on every redirect and every connection, unless a network is explicitly allowed
  (the local stack allows 127.0.0.1/32). An IPv6 address carrying an IPv4 one (NAT64, 6to4, Teredo,
  IPv4-mapped, ...: `image_common.addresses`) is judged as that IPv4 address too;
- every fetch has a byte cap and a total deadline; every image a pixel cap, checked before decoding.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from vehicle_photos.image_common.addresses import IPAddress, embedded_ipv4
from vehicle_photos.image_common.sources import ImageSource

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_DEADLINE_SECONDS = 60.0
# A little above the largest camera photos (61 MP); far below a decompression bomb.
DEFAULT_MAX_PIXELS = 64_000_000
ANY_BUCKET = "*"


class SourceNotAllowedError(Exception):
    """The source points somewhere the pipeline must not read from."""


@dataclass(frozen=True)
class SourcePolicy:
    allowed_buckets: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()
    max_bytes: int = DEFAULT_MAX_BYTES
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS
    max_pixels: int = DEFAULT_MAX_PIXELS
    resolve: Any = field(default=socket.getaddrinfo, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        allowed_buckets: Any = (),
        allowed_networks: Any = (),
        max_bytes: int = DEFAULT_MAX_BYTES,
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> SourcePolicy:
        """From plain values (settings, operator arguments): bucket names, CIDR strings, numbers."""
        return cls(
            allowed_buckets=frozenset(_words(allowed_buckets)),
            allowed_networks=tuple(ipaddress.ip_network(net, strict=False) for net in _words(allowed_networks)),
            max_bytes=int(max_bytes),
            deadline_seconds=float(deadline_seconds),
            max_pixels=int(max_pixels),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "allowed_buckets": sorted(self.allowed_buckets),
            "allowed_networks": [str(net) for net in self.allowed_networks],
            "max_bytes": self.max_bytes,
            "deadline_seconds": self.deadline_seconds,
            "max_pixels": self.max_pixels,
        }

    def check(self, source: ImageSource) -> None:
        """Raise SourceNotAllowedError unless the source may be read."""
        if source.is_s3:
            if ANY_BUCKET not in self.allowed_buckets and source.bucket not in self.allowed_buckets:
                allowed = ", ".join(sorted(self.allowed_buckets)) or "none"
                raise SourceNotAllowedError(
                    f"bucket {source.bucket!r} is not an allowed image bucket (allowed: {allowed})"
                )
            return
        self.check_host(_hostname(source.uri), _port(source.uri))

    def check_host(self, hostname: str, port: int) -> None:
        """Every address the host resolves to must be allowed; one disallowed address refuses the host."""
        try:
            literal = ipaddress.ip_address(hostname.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            try:
                infos = self.resolve(hostname, port, type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError) as error:
                raise SourceNotAllowedError(f"host {hostname!r} does not resolve ({error})") from None
            addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        for address in addresses:
            self.check_address(address, hostname)

    def check_address(self, address: IPAddress, hostname: str = "") -> None:
        """Raise SourceNotAllowedError unless `address` may be connected to. An IPv4 address carried inside
        an IPv6 one is judged as itself: `::ffff:10.0.0.1` and `64:ff9b::a9fe:a9fe` are private / link-local."""
        shown = f"{hostname} ({address})" if hostname and hostname != str(address) else str(address)
        embeddings = embedded_ipv4(address)
        refused = [
            f"a {e.form} form of {e.ipv4}, a {_kind(e.ipv4)} address"
            for e in embeddings
            if not self._plain_address_allowed(e.ipv4)
        ]
        if refused:
            raise SourceNotAllowedError(f"{shown} is {'; '.join(refused)}; image URLs must point at public hosts")
        if embeddings and all(embedding.same_host for embedding in embeddings):
            return  # only another spelling of an IPv4 address judged above
        if not self._plain_address_allowed(address):
            raise SourceNotAllowedError(f"{shown} is a {_kind(address)} address; image URLs must point at public hosts")

    def _plain_address_allowed(self, address: IPAddress) -> bool:
        """The address on its own, whatever it may carry."""
        if any(address in network for network in self.allowed_networks if network.version == address.version):
            return True
        return address.is_global and not address.is_multicast


def _kind(address: IPAddress) -> str:
    for name in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{name}"):
            return name.replace("_", "-")
    return "non-public"


def _words(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]
    return [str(part).strip() for part in value if str(part).strip()]


def _hostname(url: str) -> str:
    return urlsplit(url).hostname or ""


def _port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)
