"""The connection type: where credentials may be sent, what the extra may set, and the form Airflow shows."""

from __future__ import annotations

import json
from pathlib import Path

import airflow
import jsonschema
import pytest
from airflow.sdk import Connection

from vehicle_photos.clippingmagic.exceptions import ConfigError
from vehicle_photos.clippingmagic.hooks.clippingmagic import ClippingMagicHook
from vehicle_photos.clippingmagic.provider_info import CONNECTION_TYPE
from vehicle_photos.clippingmagic.utils.connection import ClippingMagicSettings
from vehicle_photos.clippingmagic.utils.retries import RetryRules


def settings(host: str | None = None, schema: str | None = None, port: int | None = None, **extra: object):
    connection = Connection(
        conn_id="cm", conn_type="clippingmagic", login="123", password="the-key", host=host, schema=schema,
        port=port, extra=json.dumps(extra),
    )  # fmt: skip
    return ClippingMagicSettings.from_connection(connection)


@pytest.mark.parametrize(
    ("host", "schema", "port", "expected"),
    [
        (None, None, None, "https://clippingmagic.com"),
        ("clippingmagic.com", None, None, "https://clippingmagic.com"),
        ("https://clippingmagic.com/", None, None, "https://clippingmagic.com"),
        ("http://127.0.0.1:8602", None, None, "http://127.0.0.1:8602"),
        ("localhost", "http", 8602, "http://localhost:8602"),
        ("http://[::1]:9", None, None, "http://[::1]:9"),
    ],
)
def test_base_url(host, schema, port, expected):
    assert settings(host, schema, port).base_url == expected
    assert settings(host, schema, port).api_url == f"{expected}/api/v1"


@pytest.mark.parametrize("host", ["http://clippingmagic.com", "http://10.0.0.5:8602", "ftp://clippingmagic.com"])
def test_credentials_are_never_sent_in_clear_to_another_machine(host):
    with pytest.raises(ConfigError, match=r"refusing plain http|must be an http"):
        settings(host)


def test_credentials_timeout_and_retry_rules_come_from_the_connection():
    chosen = settings("https://cm.example", timeout=30, rate_limit_wait="2.5", max_attempts=3)
    assert (chosen.auth, chosen.api_key, chosen.timeout) == (("123", "the-key"), "the-key", 30.0)
    assert chosen.retry == RetryRules(max_attempts=3, rate_limit_wait=2.5)
    assert "the-key" not in repr(chosen)
    assert settings(extra__clippingmagic__timeout=7).timeout == 7.0, "older forms prefix their fields"
    with pytest.raises(ConfigError, match="API id as login"):
        ClippingMagicSettings.from_connection(Connection(conn_id="cm", conn_type="clippingmagic", password="k"))
    with pytest.raises(ConfigError, match="connection 'cm'"):
        settings(max_attempts="many")


def test_connection_type_is_valid_provider_info_for_this_hook():
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    provider_info = {"package-name": "p", "name": "n", "description": "d", "connection-types": [CONNECTION_TYPE]}
    jsonschema.validate(provider_info, schema)
    assert CONNECTION_TYPE["connection-type"] == ClippingMagicHook.conn_type
    assert CONNECTION_TYPE["hook-name"] == ClippingMagicHook.hook_name
    assert CONNECTION_TYPE["hook-class-name"] == f"{ClippingMagicHook.__module__}.{ClippingMagicHook.__qualname__}"
