"""Which parts of an image URL's query string make it another picture."""

from __future__ import annotations

from include.pipeline.settings import PipelineSettings
from vehicle_photos.image_common.identity import DEFAULT_VOLATILE_QUERY_PARAMS, http_identity

VALIDATORS = {"last-modified": "Tue, 01 Dec 2026 08:00:00 GMT"}


def identity(url: str, volatile=DEFAULT_VOLATILE_QUERY_PARAMS) -> str | None:
    return http_identity(url, VALIDATORS, volatile_params=volatile)


def test_lasting_parameters_count_in_any_order_volatile_ones_never():
    base = "https://dealer.example/img.aspx"
    assert identity(f"{base}?id=1") != identity(f"{base}?id=2")
    assert identity(f"{base}?id=1&size=l") == identity(f"{base}?size=l&id=1")
    signed = f"{base}?id=1&X-Amz-Signature=ab&x-amz-date=20261202T0800Z&Expires=1&token=t&sig=s"
    assert identity(signed) == identity(f"{base}?id=1")
    unchanged = f"{base}#last-modified={VALIDATORS['last-modified']}"  # the identity before queries counted
    assert identity(f"{base}?X-Amz-Signature=ab") == identity(base) == unchanged
    assert "id=1" not in identity(f"{base}?id=1")  # a digest, never the text (it may carry a dealer's secret)


def test_the_volatile_parameters_are_a_setting():
    settings = PipelineSettings.from_params({"volatile_query_params": "X-Amz-*, session*"})
    assert settings.volatile_query_params == ("X-Amz-*", "session*")
    url = "https://dealer.example/img.aspx?id=1&sessionid=9"
    assert identity(url, settings.volatile_query_params) == identity("https://dealer.example/img.aspx?id=1")
    assert identity(url) != identity("https://dealer.example/img.aspx?id=1")  # the default counts sessionid
