"""The connection type: where credentials may be sent, and the form Airflow shows for it."""

from __future__ import annotations

import json
from pathlib import Path

import airflow
import jsonschema
import pytest
from airflow.sdk import Connection

from clippingmagic.connection import base_url_from, settings_from_connection
from clippingmagic.hooks.clippingmagic import ClippingMagicHook
from clippingmagic.provider_info import CONNECTION_TYPE


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
    assert base_url_from(host, schema, port) == expected


@pytest.mark.parametrize("host", ["http://clippingmagic.com", "http://10.0.0.5:8602", "ftp://clippingmagic.com"])
def test_credentials_are_never_sent_in_clear_to_another_machine(host):
    with pytest.raises(ValueError, match=r"refusing plain http|must be an http"):
        base_url_from(host)


def test_settings_come_from_login_password_host_and_extra():
    connection = Connection(
        conn_id="cm", conn_type="clippingmagic", login="123", password="the-key", host="https://cm.example",
        extra=json.dumps({"timeout": 30}),
    )  # fmt: skip
    settings = settings_from_connection(connection)
    assert (settings.api_id, settings.api_key, settings.api_url, settings.timeout) == (
        "123",
        "the-key",
        "https://cm.example/api/v1",
        30.0,
    )
    assert "the-key" not in repr(settings)
    with pytest.raises(ValueError, match="API id as login"):
        settings_from_connection(Connection(conn_id="cm", conn_type="clippingmagic", password="k"))


def test_connection_type_is_valid_provider_info_for_this_hook():
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    provider_info = {"package-name": "p", "name": "n", "description": "d", "connection-types": [CONNECTION_TYPE]}
    jsonschema.validate(provider_info, schema)
    assert CONNECTION_TYPE["connection-type"] == ClippingMagicHook.conn_type
    assert CONNECTION_TYPE["hook-name"] == ClippingMagicHook.hook_name
    assert CONNECTION_TYPE["hook-class-name"] == f"{ClippingMagicHook.__module__}.{ClippingMagicHook.__qualname__}"
