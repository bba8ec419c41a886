"""Car-Cutter test helpers on top of the shared stack fixtures (tests/conftest.py).

`carcutter_conn` points a connection with short retry waits at the stand-in; `put_photos` uploads small
real JPEG photos to moto's S3 server for the stand-in to fetch through presigned URLs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import StandIn
from tests.photos import car_photo

CONN_ID = "carcutter_test"
FAST_RETRIES = {"max_retries": 3, "retry_wait_min": 0.05, "retry_wait_max": 0.2, "timeout": 10}


def connection_json(url: str, token: str, **extra: Any) -> str:
    return json.dumps({"conn_type": "carcutter", "host": url, "password": token, "extra": {**FAST_RETRIES, **extra}})


@pytest.fixture
def carcutter(carcutter_server: StandIn, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """The stand-in, quick for tests (fast pixel work but real fetches of every image_url, short
    processing), with connection `carcutter_test` pointing at it."""
    carcutter_server.configure(fast=True, fast_fetch=True, processing_seconds=0.3)
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", connection_json(carcutter_server.url, carcutter_server.token))
    return carcutter_server


PutPhotos = Callable[..., list[dict[str, str]]]


@pytest.fixture
def put_photos(s3_client: Any, bucket: str) -> PutPhotos:
    """`put_photos(vehicles=2, per_vehicle=3)` -> image dicts `{"source": "s3://...", "vehicle_id": ...}`."""

    def put(vehicles: int = 1, per_vehicle: int = 3, prefix: str = "photos") -> list[dict[str, str]]:
        images = []
        angles = ("side-left", "front", "rear-right", "interior")
        for v in range(vehicles):
            vehicle_id = f"WVWZZZ1JZ3W{v:06d}"
            for n in range(per_vehicle):
                key = f"{prefix}/{vehicle_id}/{n}_{angles[n % len(angles)]}.jpg"
                s3_client.put_object(Bucket=bucket, Key=key, Body=car_photo(v * 100 + n), ContentType="image/jpeg")
                images.append({"source": f"s3://{bucket}/{key}", "vehicle_id": vehicle_id})
        return images

    return put


def counts(server: StandIn) -> dict[str, int]:
    return server.requests()["counts"]


def presign(s3_client: Any, uri: str, expires: int = 3600) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return s3_client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires)
