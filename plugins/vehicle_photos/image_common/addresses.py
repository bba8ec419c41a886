"""IPv4 addresses carried inside IPv6 addresses, so each can be judged as the IPv4 address it is.

A host that resolves to `64:ff9b::a9fe:a9fe` reaches 169.254.169.254 (the cloud metadata service) through a
NAT64 gateway, although Python calls that IPv6 address "global". Every form below embeds an IPv4 address:

| form | prefix | the IPv4 address | kind |
|---|---|---|---|
| IPv4-mapped | `::ffff:0:0/96` | last 32 bits | the IPv4 address itself |
| IPv4-translated (SIIT) | `::ffff:0:0:0/96` | last 32 bits | the IPv4 address itself |
| IPv4-compatible (deprecated) | `::/96` but `::` and `::1` | last 32 bits | the IPv4 address itself |
| NAT64, well-known prefix | `64:ff9b::/96` | last 32 bits | the IPv4 address itself |
| NAT64, local-use prefix | `64:ff9b:1::/48` | every RFC 6052 position (/48, /56, /64, /96) | the IPv4 address itself |
| 6to4 | `2002::/16` | bits 16-47 | a tunnel to it |
| Teredo | `2001::/32` | server bits 32-63; client last 32 bits, inverted | a tunnel to it |
| ISATAP | interface id `0:5efe` / `200:5efe`, any prefix | last 32 bits | a tunnel to it |

"The IPv4 address itself" forms are judged by their IPv4 address alone; tunnel forms are IPv6 addresses of
their own, judged as such *and* by every IPv4 address they carry. NAT64 under a network-specific prefix (one
an operator picks) cannot be recognised from the address alone.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")
_ISATAP_IDS = (0x00005EFE, 0x02005EFE)
# RFC 6052 section 2.2: where the IPv4 address sits, as (first bit, bit count) parts, for the prefix lengths
# /96, /64, /56 and /48 (the most common first); bits 64-71 are always 0.
_RFC6052_LAYOUTS = (((96, 32),), ((72, 32),), ((56, 8), (72, 24)), ((48, 16), (72, 16)))


@dataclass(frozen=True)
class Embedding:
    """`ipv4` carried inside an IPv6 address in the form `form`; `same_host` when the IPv6 address is only
    another spelling of the IPv4 one (mapped, compatible, NAT64), False for a tunnel (6to4, Teredo, ISATAP)."""

    form: str
    ipv4: ipaddress.IPv4Address
    same_host: bool


def embedded_ipv4(address: IPAddress) -> list[Embedding]:
    """Every IPv4 address `address` carries (none for an IPv4 address or a plain IPv6 one)."""
    if address.version != 6:
        return []
    value = int(address)
    last32 = ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if address in _MAPPED:
        return [Embedding("IPv4-mapped", last32, True)]
    if address in _TRANSLATED:
        return [Embedding("IPv4-translated", last32, True)]
    if address in _COMPATIBLE:
        return [] if value <= 1 else [Embedding("IPv4-compatible", last32, True)]
    if address in _NAT64_WELL_KNOWN:
        return [Embedding("NAT64", last32, True)]
    if address in _NAT64_LOCAL:
        return [Embedding("NAT64", _bits_to_ipv4(value, layout), True) for layout in _RFC6052_LAYOUTS]
    found: list[Embedding] = []
    if address in _SIX_TO_FOUR:
        found.append(Embedding("6to4", ipaddress.IPv4Address((value >> 80) & 0xFFFFFFFF), False))
    if address in _TEREDO:
        server = ipaddress.IPv4Address((value >> 64) & 0xFFFFFFFF)
        client = ipaddress.IPv4Address(~value & 0xFFFFFFFF)
        found += [Embedding("Teredo", server, False), Embedding("Teredo", client, False)]
    if (value >> 32) & 0xFFFFFFFF in _ISATAP_IDS:
        found.append(Embedding("ISATAP", last32, False))
    return found


def is_loopback(address: IPAddress) -> bool:
    """Loopback, counting an IPv4-mapped loopback address (`::ffff:127.0.0.1`: the kernel's own 127.0.0.1).
    A NAT64 or tunnel form of 127.0.0.1 leaves the machine, so it is not loopback."""
    mapped = address.ipv4_mapped if address.version == 6 else None
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def _bits_to_ipv4(value: int, layout: tuple[tuple[int, int], ...]) -> ipaddress.IPv4Address:
    result = 0
    for first, count in layout:
        result = (result << count) | ((value >> (128 - first - count)) & ((1 << count) - 1))
    return ipaddress.IPv4Address(result)
