"""Untrusted image sources: which may be read, and reading them within byte, time and pixel limits. Every
request goes to 127.0.0.1; private and link-local ranges are refused at the resolution step, before any
traffic."""

from __future__ import annotations

import io
import socket

import pytest

from tests.image_server import Answer
from tests.photos import car_photo, png_claiming
from vehicle_photos.image_common.fetch import SourceFetchError, fetch_url, guarded_session, head_url
from vehicle_photos.image_common.inspection import UnusableImageError, inspect_file, inspect_image
from vehicle_photos.image_common.policy import SourceNotAllowedError, SourcePolicy
from vehicle_photos.image_common.sources import ImageItem, ImageSource, InvalidSourceError

LOOPBACK = ["127.0.0.1/32"]


def resolving_to(address: str):
    def resolve(host: str, port: int, **kwargs: object) -> list:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    return resolve


@pytest.mark.parametrize(
    ("value", "message"),
    [("ftp://x/y.jpg", "scheme 'ftp'"), ("s3://bucket", "not an s3://bucket/key"), ("http:///x.jpg", "no host"),
     ("photos/a.jpg", "no bucket was given"), ("", "non-empty")],
)  # fmt: skip
def test_invalid_sources_are_named(value: str, message: str) -> None:
    with pytest.raises(InvalidSourceError, match=message):
        ImageSource.parse(value)
    with pytest.raises(InvalidSourceError, match="image 3: "):
        ImageItem.parse({"source": value or None, "vehicle_id": "V"}, 3)


def test_sources_never_show_their_query() -> None:
    source = ImageSource.parse("https://cdn.example/a/b.jpg?token=s3cr3t&sig=x")
    assert str(source) == "https://cdn.example/a/b.jpg?…" and "s3cr3t" not in source.redacted


def test_s3_sources_only_from_allowed_buckets() -> None:
    policy = SourcePolicy.build(allowed_buckets=["listings-bucket"])
    policy.check(ImageSource.parse("s3://listings-bucket/photos/a.jpg"))
    with pytest.raises(SourceNotAllowedError, match="'payroll' is not an allowed image bucket"):
        policy.check(ImageSource.parse("s3://payroll/2026/salaries.jpg"))
    SourcePolicy.build(allowed_buckets=["*"]).check(ImageSource.parse("s3://payroll/x.jpg"))


@pytest.mark.parametrize(
    ("address", "kind"),
    [("10.1.2.3", "private"), ("192.168.0.10", "private"), ("169.254.169.254", "link-local"),
     ("127.0.0.1", "loopback"), ("0.0.0.0", "unspecified"), ("::1", "loopback")],
)  # fmt: skip
def test_hosts_resolving_to_internal_addresses_are_refused_before_any_traffic(address: str, kind: str) -> None:
    policy = SourcePolicy(resolve=resolving_to(address))
    with pytest.raises(SourceNotAllowedError, match=kind):
        policy.check(ImageSource.parse("https://images.dealer.example/car.jpg"))


def test_an_allowed_network_opens_only_itself() -> None:
    policy = SourcePolicy.build(allowed_networks=LOOPBACK)
    policy.check(ImageSource.parse("http://127.0.0.1:9/x.jpg"))
    with pytest.raises(SourceNotAllowedError, match="link-local"):
        policy.check(ImageSource.parse("http://169.254.169.254/latest/meta-data"))


def test_loopback_is_refused_on_connect_and_on_redirect(image_server) -> None:
    image_server.routes["/car.jpg"] = Answer(body=car_photo())
    image_server.routes["/jump"] = Answer(302, headers=(("Location", image_server.url("/car.jpg")),))
    strict = SourcePolicy()
    with guarded_session(strict) as web, pytest.raises(SourceNotAllowedError, match="loopback"):
        fetch_url(web, image_server.url("/car.jpg"), strict, io.BytesIO())
    # a host that passes the check but connects to loopback (DNS rebinding) is refused by the peer check
    rebinding = SourcePolicy(resolve=resolving_to("93.184.215.14"))
    with guarded_session(rebinding) as web, pytest.raises(SourceNotAllowedError, match="loopback"):
        fetch_url(web, image_server.url("/car.jpg").replace("127.0.0.1", "localhost"), rebinding, io.BytesIO())
    assert image_server.hits["/car.jpg"] == 0
    # a redirect is followed only after its target is checked too
    allowed = SourcePolicy.build(allowed_networks=LOOPBACK)
    with guarded_session(allowed) as web:
        assert fetch_url(web, image_server.url("/jump"), allowed, io.BytesIO()).size == len(car_photo())


def test_byte_cap_and_total_deadline(image_server) -> None:
    image_server.routes["/big.jpg"] = Answer(body=b"x" * 2048)
    image_server.routes["/drip.jpg"] = Answer(body=car_photo(), drip_seconds=0.05)
    policy = SourcePolicy.build(allowed_networks=LOOPBACK, max_bytes=1024, deadline_seconds=1.0)
    with guarded_session(policy) as web:
        with pytest.raises(SourceFetchError, match=r"over the 0\.0 MB limit|larger than"):
            fetch_url(web, image_server.url("/big.jpg"), policy, io.BytesIO())
        slow = SourcePolicy.build(allowed_networks=LOOPBACK, deadline_seconds=1.0)
        with pytest.raises(SourceFetchError, match="took longer"):
            fetch_url(web, image_server.url("/drip.jpg"), slow, io.BytesIO())
        assert head_url(web, image_server.url("/big.jpg"), policy)["content-length"] == "2048"


@pytest.mark.parametrize(
    ("content", "content_type", "reason"),
    [(b"", "image/jpeg", "empty"), (b"<!doctype html><p>sorry</p>", "text/html", "text/html, not an image"),
     (b"<html><body>404</body></html>", None, "an HTML page"),
     (car_photo(1, (640, 480))[:-100], "image/jpeg", "truncated JPEG"),
     (png_claiming(30000, 30000), "image/png", "pixel limit"),
     (png_claiming(9000, 9000), None, "81,000,000")],
)  # fmt: skip
def test_unusable_images_are_refused_with_a_reason(content: bytes, content_type: str | None, reason: str) -> None:
    with pytest.raises(UnusableImageError, match=reason):
        inspect_file(io.BytesIO(content), len(content), content_type, 64_000_000, "car.jpg")


def test_a_complete_photo_passes_without_decoding_its_pixels() -> None:
    photo = car_photo(2, (320, 240))
    facts = inspect_image(photo[:1024], photo[-16:], len(photo), "image/jpeg", 64_000_000, "car.jpg")
    assert (facts.format, facts.width, facts.height) == ("JPEG", 320, 240)
