"""Calls the Clipping Magic stand-in tests make again and again."""

from __future__ import annotations

import requests


def upload(api: requests.Session, cm, data: bytes, filename: str = "car.jpg", **fields) -> requests.Response:
    return api.post(f"{cm.url}/api/v1/images", files={"image": (filename, data)}, data=fields, timeout=30)


def assert_error(response: requests.Response, status: int, code: int | None = None) -> None:
    """Assert the documented Error JSON Object with `status` (and `code` when given)."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status
    assert isinstance(error["code"], int)
    assert error["message"]
    if code is not None:
        assert error["code"] == code
