"""Clipping Magic test helpers on top of the shared stack fixtures (tests/conftest.py)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PIL import Image

from tests.conftest import StandIn


@pytest.fixture
def cm(clippingmagic_server: StandIn) -> StandIn:
    """The Clipping Magic stand-in in fast mode: these tests are about the client, not about pixels."""
    clippingmagic_server.configure(fast=True)
    return clippingmagic_server


@pytest.fixture(autouse=True)
def fernet_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Fernet key for the task runner, so the encrypted hand-over of image secrets is exercised."""
    from airflow.sdk.crypto import get_fernet
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", key)
    get_fernet.cache_clear()
    yield key
    get_fernet.cache_clear()


@pytest.fixture
def hook_factory(cm: StandIn) -> Callable[..., Any]:
    """A hook on the `clippingmagic_default` connection of the stack, with tiny back-off waits."""
    from clippingmagic.hooks.clippingmagic import ClippingMagicHook

    def make(**kwargs: Any) -> ClippingMagicHook:
        kwargs = {"backoff_base_wait": 0.01, "rate_limit_base_wait": 0.01, **kwargs}
        return ClippingMagicHook(**kwargs)

    return make


def jpeg_bytes(width: int = 320, height: int = 200, colour: str = "navy") -> bytes:
    image = Image.new("RGB", (width, height), "white")
    image.paste(Image.new("RGB", (width // 2, height // 2), colour), (width // 4, height // 4))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def put_images(s3_client: Any, bucket: str, keys: list[str], payloads: dict[str, bytes] | None = None) -> None:
    for key in keys:
        body = (payloads or {}).get(key) or jpeg_bytes(colour=["navy", "red", "green", "teal"][len(key) % 4])
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)


def read_json(s3_client: Any, bucket: str, key: str) -> Any:
    return json.loads(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())
