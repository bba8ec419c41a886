"""Knobs that make the Clipping Magic stand-in answer 429 on demand and hold clients to their Accept header."""

from __future__ import annotations

import pytest
import requests

from dev.standins import guesses
from dev.standins.clippingmagic.__main__ import KNOBS
from dev.standins.common import parse_knobs
from tests.standins.clippingmagic.calls import assert_error, upload


def test_new_knobs_are_flags_and_environment_variables(monkeypatch):
    monkeypatch.setenv("STANDIN_RATE_LIMIT_NEXT", "3")
    knobs = parse_knobs("clippingmagic", "", KNOBS, ["--strict-accept"])
    assert (knobs.rate_limit_next, knobs.strict_accept) == (3, True)
    with pytest.raises(SystemExit):
        parse_knobs("clippingmagic", "", KNOBS, ["--rate-limit-next", "-1"])


def test_rate_limit_next_refuses_exactly_the_next_api_requests(cm, api, photo):
    cm.configure(fast=True)
    image_id = upload(api, cm, photo(), format="result").headers["x-amz-meta-id"]
    location = api.get(f"{cm.url}/api/v1/images/{image_id}", allow_redirects=False, timeout=10).headers["Location"]

    cm.configure(rate_limit_next=2)
    assert requests.get(location, timeout=10).status_code == 200  # storage is not the API: not refused, not used up
    refused = api.get(f"{cm.url}/api/v1/account", timeout=10)
    assert_error(refused, 429, guesses.CM_CODE_RATE_LIMITED)
    assert refused.headers["Retry-After"] == str(guesses.RETRY_AFTER_SECONDS)
    assert requests.get(f"{cm.url}/_emulator/config", timeout=10).json()["knobs"]["rate_limit_next"] == 1
    assert_error(upload(api, cm, photo()), 429, guesses.CM_CODE_RATE_LIMITED)
    assert api.get(f"{cm.url}/api/v1/account", timeout=10).status_code == 200
    assert api.get(f"{cm.url}/api/v1/images", timeout=10).json()["images"][0]["id"] == int(image_id)  # none stored
    assert requests.get(f"{cm.url}/_emulator/config", timeout=10).json()["knobs"]["rate_limit_next"] == 0
    assert cm.requests()["status_codes"]["429"] == 2

    cm.configure(rate_limit_next=1)
    assert_error(api.get(f"{cm.url}/api/v1/account", timeout=10), 429)
    cm.configure(rate_limit_next=1)
    cm.reset()  # back to the start value (0): nothing refused
    assert api.get(f"{cm.url}/api/v1/account", timeout=10).status_code == 200


def test_strict_accept_refuses_uploads_and_downloads_of_files_the_accept_header_does_not_admit(cm, api, photo):
    cm.configure(fast=True, strict_accept=True)
    json_only = {"Accept": "application/json"}

    refused = api.post(f"{cm.url}/api/v1/images", files={"image": ("car.jpg", photo())}, data={"format": "result"},
                       headers=json_only, timeout=30)  # fmt: skip
    assert_error(refused, 406, guesses.CM_CODE_NOT_ACCEPTABLE)
    assert "image/png" in refused.json()["error"]["message"]
    assert api.get(f"{cm.url}/api/v1/images", headers=json_only, timeout=10).json()["images"] == []  # nothing stored
    assert cm.ledger()["charges"] == {}
    as_json = api.post(f"{cm.url}/api/v1/images", files={"image": ("car.jpg", photo())}, headers=json_only, timeout=30)
    image_id = as_json.json()["image"]["id"]  # the Image JSON Object is not a file: never refused
    svg = upload(api, cm, photo(), format="clipping_path_svg")  # requests sends Accept: */*
    assert svg.status_code == 200 and cm.ledger()["charges"] == {svg.headers["x-amz-meta-id"]: 1}

    requests.post(f"{cm.url}/_emulator/images/{image_id}/edit", timeout=10).raise_for_status()
    url = f"{cm.url}/api/v1/images/{image_id}"
    assert_error(api.get(url, headers=json_only, timeout=10), 406, guesses.CM_CODE_NOT_ACCEPTABLE)
    assert_error(api.get(url, params={"format": "clipping_path_svg"}, headers={"Accept": "image/png"}, timeout=10), 406)
    assert str(image_id) not in cm.ledger()["charges"]  # refused before the first download's charge
    assert api.get(url, params={"format": "json"}, headers=json_only, timeout=10).status_code == 200

    redirect = api.get(url, headers={"Accept": "image/png"}, allow_redirects=False, timeout=10)
    assert redirect.status_code == 302
    location = redirect.headers["Location"]
    stored = requests.get(location, headers=json_only, timeout=10)
    assert stored.status_code == 406 and stored.text == "NotAcceptable: the stored object is image/png."
    assert requests.get(location, headers={"Accept": "image/*"}, timeout=10).status_code == 200
    followed = api.get(url, headers={"Accept": "image/png"}, timeout=10)
    assert followed.status_code == 200 and followed.headers["Content-Type"] == "image/png"

    requests.post(f"{cm.url}/_emulator/images/{image_id}/edit", json={"background": "#ffffff"}, timeout=10)
    assert_error(api.get(url, headers={"Accept": "image/png"}, timeout=10), 406)  # an opaque result is a JPEG
    assert api.get(url, headers={"Accept": "image/jpeg, image/png"}, timeout=10).headers["Content-Type"] == "image/jpeg"
    assert cm.ledger()["charges"][str(image_id)] == 2

    cm.configure(strict_accept=False)
    assert api.get(url, headers=json_only, timeout=10).status_code == 200  # the default ignores Accept
