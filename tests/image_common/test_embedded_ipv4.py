"""SSRF through IPv6 spellings of IPv4 addresses: NAT64, 6to4, Teredo, IPv4-mapped / -compatible / -translated,
ISATAP. Each is judged as the IPv4 address it carries, at the resolution step, on redirects and on the
connected peer. Only loopback is ever connected to: every other address is refused before any traffic, and
host names resolve through a stub, never through DNS."""

from __future__ import annotations

import io
import ipaddress
import re
import socket

import pytest

from tests.image_server import Answer
from tests.photos import car_photo
from vehicle_photos.image_common.addresses import embedded_ipv4
from vehicle_photos.image_common.fetch import check_peer, fetch_url, guarded_session
from vehicle_photos.image_common.policy import SourceNotAllowedError, SourcePolicy
from vehicle_photos.image_common.sources import ImageSource
from vehicle_photos.image_common.urls import api_base_url, is_loopback_host

LOOPBACK = ["127.0.0.1/32"]


def resolving_to(*addresses: str):
    """A getaddrinfo stand-in answering `addresses` for every host name."""

    def resolve(host: str, port: int, **kwargs: object) -> list:
        family = {4: socket.AF_INET, 6: socket.AF_INET6}
        return [(family[ipaddress.ip_address(a).version], socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    return resolve


# What each form carries, straight from the RFCs' layouts.
EMBEDDED = [
    ("64:ff9b::a9fe:a9fe", "NAT64", "169.254.169.254", "link-local"),  # the metadata service through DNS64
    ("64:ff9b::7f00:1", "NAT64", "127.0.0.1", "loopback"),
    ("64:ff9b::a00:1", "NAT64", "10.0.0.1", "private"),
    ("64:ff9b:1::7f00:1", "NAT64", "127.0.0.1", "loopback"),  # local-use prefix, /96 layout
    ("64:ff9b:1:7f00:0:100::", "NAT64", "127.0.0.1", "loopback"),  # local-use prefix, /48 layout (RFC 6052)
    ("2002:7f00:1::", "6to4", "127.0.0.1", "loopback"),
    ("2002:a9fe:a9fe::1", "6to4", "169.254.169.254", "link-local"),
    ("::127.0.0.1", "IPv4-compatible", "127.0.0.1", "loopback"),
    ("::ffff:127.0.0.1", "IPv4-mapped", "127.0.0.1", "loopback"),
    ("::ffff:192.168.1.20", "IPv4-mapped", "192.168.1.20", "private"),
    ("::ffff:0:127.0.0.1", "IPv4-translated", "127.0.0.1", "loopback"),
    # Teredo: server 65.54.227.120 (public) in bits 32-63, client 127.0.0.1 stored inverted in the last 32 bits
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo", "127.0.0.1", "loopback"),
    ("2a00:1450:4001::5efe:a9fe:a9fe", "ISATAP", "169.254.169.254", "link-local"),
]


@pytest.mark.parametrize(("address", "form", "ipv4", "kind"), EMBEDDED)
def test_each_form_carries_its_ipv4_address(address: str, form: str, ipv4: str, kind: str) -> None:
    found = {(e.form, str(e.ipv4)) for e in embedded_ipv4(ipaddress.ip_address(address))}
    assert (form, ipv4) in found


@pytest.mark.parametrize(("address", "form", "ipv4", "kind"), EMBEDDED)
def test_a_host_resolving_to_an_embedded_internal_address_is_refused(address, form, ipv4, kind) -> None:
    policy = SourcePolicy(resolve=resolving_to(address))
    with pytest.raises(SourceNotAllowedError, match=re.escape(f"{form} form of {ipv4}, a {kind} address")):
        policy.check(ImageSource.parse("https://images.dealer.example/car.jpg"))
    with pytest.raises(SourceNotAllowedError, match=kind):  # the literal in the URL, no resolution at all
        SourcePolicy().check(ImageSource.parse(f"https://[{address}]/car.jpg"))


def test_one_embedded_internal_address_among_public_ones_refuses_the_host() -> None:
    policy = SourcePolicy(resolve=resolving_to("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
                                               "64:ff9b::a9fe:a9fe"))  # fmt: skip
    with pytest.raises(SourceNotAllowedError, match=re.escape("169.254.169.254")):
        policy.check(ImageSource.parse("https://images.dealer.example/car.jpg"))


@pytest.mark.parametrize("address", ["64:ff9b::5db8:d70e", "2002:5db8:d70e::1", "::ffff:93.184.215.14"])
def test_embedded_public_addresses_pass(address: str) -> None:
    SourcePolicy(resolve=resolving_to(address)).check(ImageSource.parse("https://images.dealer.example/car.jpg"))


def test_plain_ipv6_loopback_and_unspecified_keep_their_names() -> None:
    for address, kind in (("::1", "loopback"), ("::", "unspecified")):
        with pytest.raises(SourceNotAllowedError, match=rf"\({address}\) is a {kind} address"):
            SourcePolicy(resolve=resolving_to(address)).check(ImageSource.parse("https://x.example/car.jpg"))


def test_an_allowed_ipv4_network_covers_its_other_spellings_and_nothing_more() -> None:
    policy = SourcePolicy.build(allowed_networks=LOOPBACK)
    for allowed in ("::ffff:127.0.0.1", "64:ff9b::7f00:1"):
        policy.check_address(ipaddress.ip_address(allowed))
    for refused in ("64:ff9b::7f00:2", "::ffff:127.0.0.2", "2002:7f00:2::", "64:ff9b::a9fe:a9fe"):
        with pytest.raises(SourceNotAllowedError):
            policy.check_address(ipaddress.ip_address(refused))


def test_a_redirect_to_an_embedded_internal_address_is_refused_before_it_is_followed(image_server) -> None:
    port = image_server.httpd.server_address[1]
    image_server.routes["/car.jpg"] = Answer(body=car_photo())
    image_server.routes["/to-nat64"] = Answer(302, headers=(("Location", f"http://[64:ff9b::7f00:2]:{port}/car.jpg"),))
    image_server.routes["/to-metadata"] = Answer(302, headers=(("Location", "http://metadata.example/latest"),))
    policy = SourcePolicy(
        allowed_networks=SourcePolicy.build(allowed_networks=LOOPBACK).allowed_networks,
        resolve=resolving_to("64:ff9b::a9fe:a9fe"),
    )
    with guarded_session(policy) as web:
        with pytest.raises(SourceNotAllowedError, match=re.escape("NAT64 form of 127.0.0.2, a loopback address")):
            fetch_url(web, image_server.url("/to-nat64"), policy, io.BytesIO())
        metadata = re.escape("NAT64 form of 169.254.169.254, a link-local address")
        with pytest.raises(SourceNotAllowedError, match=metadata):
            fetch_url(web, image_server.url("/to-metadata"), policy, io.BytesIO())
    assert image_server.hits["/car.jpg"] == 0


def test_a_peer_reached_through_an_ipv4_mapped_address_is_judged_as_ipv4(image_server) -> None:
    """A real AF_INET6 connection to `::ffff:127.0.0.1` (the kernel's 127.0.0.1): its peer is the mapped form."""
    port = image_server.httpd.server_address[1]
    with socket.socket(socket.AF_INET6) as sock:
        sock.connect(("::ffff:127.0.0.1", port))
        assert sock.getpeername()[0] == "::ffff:127.0.0.1"
        check_peer(SourcePolicy.build(allowed_networks=LOOPBACK), sock, "localhost")
        with pytest.raises(SourceNotAllowedError, match=re.escape("IPv4-mapped form of 127.0.0.1, a loopback address")):
            check_peer(SourcePolicy(), sock, "localhost")
    image_server.routes["/car.jpg"] = Answer(body=car_photo())
    allowed = SourcePolicy.build(allowed_networks=LOOPBACK)
    with guarded_session(allowed) as web:
        mapped_url = f"http://[::ffff:127.0.0.1]:{port}/car.jpg"
        assert fetch_url(web, mapped_url, allowed, io.BytesIO()).size == len(car_photo())


def test_plain_http_is_allowed_to_loopback_only_not_to_a_nat64_form_of_it() -> None:
    assert is_loopback_host("::ffff:127.0.0.1") and is_loopback_host("[::1]")
    assert not is_loopback_host("64:ff9b::7f00:1") and not is_loopback_host("2002:7f00:1::")
    base = api_base_url("http://[::ffff:127.0.0.1]:8601", None, None, default="https://x", api="Car-Cutter")
    assert base == "http://[::ffff:127.0.0.1]:8601"
    with pytest.raises(ValueError, match="plain http"):
        api_base_url("http://[64:ff9b::7f00:1]:8601", None, None, default="https://x", api="Car-Cutter")
