"""Calls the Car-Cutter stand-in tests make again and again."""

from __future__ import annotations

import time

import requests

from dev.standins.carcutter import paths


def error_of(response: requests.Response, status: int) -> str:
    """Assert a nested Car-Cutter error of `status` and answer its message."""
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["code"] == status
    return body["message"]


def submit(api: requests.Session, cc, urls: list[str], **fields) -> requests.Response:
    form = [("image_url", (None, url)) for url in urls] + [(k, (None, v)) for k, v in fields.items()]
    return api.post(f"{cc.url}{paths.ASYNC_SUBMIT}", files=form, timeout=30)


def multipart(**fields: str) -> dict[str, tuple[None, str]]:
    """Fields as multipart/form-data parts (requests' `files=`), as every Car-Cutter body is sent."""
    return {name: (None, value) for name, value in fields.items()}


def statuses(api: requests.Session, cc, urls: list[str], per_request: int = 10) -> list[dict]:
    """Asked `per_request` URLs at a time: 60 presigned URLs make a request target longer than the stand-in's
    default limit (`--max-request-target`)."""
    images = []
    for start in range(0, len(urls), per_request):
        params = {"image_url": urls[start : start + per_request]}
        response = api.get(f"{cc.url}{paths.ASYNC_STATUS}", params=params, timeout=10)
        assert response.status_code == 200, response.text
        images.extend(response.json()["data"]["images"])
    return images


def wait_until_settled(api: requests.Session, cc, urls: list[str], seen_phases: set[str] | None = None) -> dict:
    """Poll until every image is final or error; answer the statuses by URL."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        images = statuses(api, cc, urls)
        if seen_phases is not None:
            seen_phases.update(image["phase"] for image in images)
        if all(image["status"] in ("final", "error") for image in images):
            return {image["image"]: image for image in images}
        time.sleep(0.05)
    raise AssertionError("images did not settle")


def result(api: requests.Session, cc, url: str, **headers: str) -> requests.Response:
    return api.get(f"{cc.url}{paths.ASYNC_RESULT}", params={"image_url": url}, headers=headers, timeout=10)
