"""The Clipping Magic stand-in is no more lenient than the documentation, and each knob gives the other plausible
answer where it is silent (guesses.py, "First contact")."""

from __future__ import annotations

import time

import pytest
import requests

from dev.standins import guesses
from dev.standins.clippingmagic.__main__ import KNOBS
from dev.standins.common import parse_knobs
from tests.standins.clippingmagic.calls import assert_error, upload


def test_knobs_are_flags_and_environment_variables(monkeypatch):
    monkeypatch.setenv("STANDIN_STORAGE_LINK_SECONDS", "5")
    knobs = parse_knobs("clippingmagic", "", KNOBS, ["--no-strict-fields", "--error-body", "text",
                                                      "--no-storage-refuses-credentials"])  # fmt: skip
    assert (knobs.strict_fields, knobs.error_body, knobs.storage_refuses_credentials) == (False, "text", False)
    assert knobs.storage_link_seconds == 5.0
    monkeypatch.delenv("STANDIN_STORAGE_LINK_SECONDS")
    defaults = parse_knobs("clippingmagic", "", KNOBS, [])
    assert (defaults.strict_fields, defaults.error_body, defaults.storage_refuses_credentials) == (True, "json", True)
    assert defaults.storage_link_seconds == guesses.CM_STORAGE_LINK_SECONDS


def test_fields_the_documentation_does_not_name_are_refused(cm, api, photo):
    refused = upload(api, cm, photo(), test="true", background_color="#ffffff")
    assert_error(refused, 400, guesses.CM_CODE_BAD_PARAMETER)
    assert refused.json()["error"]["message"] == "Unknown parameter 'background_color'."
    in_query = api.post(f"{cm.url}/api/v1/images", params={"test": "true"}, files={"image": ("a.jpg", photo())})
    assert_error(in_query, 400)
    image_id = upload(api, cm, photo(), test="true").json()["image"]["id"]
    assert_error(api.get(f"{cm.url}/api/v1/images/{image_id}", params={"fromat": "json"}, timeout=10), 400)
    assert_error(api.get(f"{cm.url}/api/v1/images", params={"page": 2}, timeout=10), 400)
    assert_error(api.get(f"{cm.url}/api/v1/account", params={"verbose": 1}, timeout=10), 400)
    assert (
        "upload" in cm.requests()["counts"]
        and len(api.get(f"{cm.url}/api/v1/images", timeout=10).json()["images"]) == 1
    )

    cm.configure(strict_fields=False)
    assert upload(api, cm, photo(), test="true", background_color="#ffffff").status_code == 200
    assert api.get(f"{cm.url}/api/v1/images", params={"page": 2}, timeout=10).status_code == 200


def _storage_link(api, cm, photo) -> str:
    image_id = upload(api, cm, photo(), test="true").json()["image"]["id"]
    requests.post(f"{cm.url}/_emulator/images/{image_id}/edit", timeout=10).raise_for_status()
    redirect = api.get(f"{cm.url}/api/v1/images/{image_id}", allow_redirects=False, timeout=10)
    assert redirect.status_code == guesses.CM_DOWNLOAD_REDIRECT_STATUS
    return redirect.headers["Location"]


def test_storage_links_need_no_credentials_refuse_them_and_expire(cm, api, photo):
    link = _storage_link(api, cm, photo)
    with_credentials = requests.get(link, auth=(cm.api_id, cm.api_key), timeout=10)
    assert with_credentials.status_code == 400 and b"<Code>InvalidArgument</Code>" in with_credentials.content
    assert requests.get(link, timeout=10).status_code == 200
    cm.configure(storage_refuses_credentials=False)
    assert requests.get(link, auth=(cm.api_id, cm.api_key), timeout=10).status_code == 200

    cm.configure(storage_link_seconds=0.2)
    link = _storage_link(api, cm, photo)
    time.sleep(0.3)
    expired = requests.get(link, timeout=10)
    assert (expired.status_code, expired.headers["Content-Type"]) == (403, "application/xml")
    assert b"Request has expired" in expired.content


@pytest.mark.parametrize("style", ["html", "text", "empty"])
def test_error_bodies_can_be_a_proxy_page_text_or_nothing(cm, api, style):
    cm.configure(error_body=style)
    missing = api.get(f"{cm.url}/api/v1/images/999999999", params={"format": "json"}, timeout=10)
    assert missing.status_code == 404
    wrong_key = requests.get(f"{cm.url}/api/v1/account", auth=(cm.api_id, "wrong"), timeout=10)
    assert wrong_key.status_code == 401 and wrong_key.headers["WWW-Authenticate"].startswith("Basic")
    cm.configure(error_5xx_ratio=1.0)
    failed = api.get(f"{cm.url}/api/v1/account", timeout=10)
    assert failed.status_code == 500
    for answer in (missing, wrong_key, failed):
        assert not answer.headers.get("Content-Type", "").startswith("application/json")
    if style == "empty":
        assert missing.content == b"" and "Content-Type" not in missing.headers
    elif style == "text":
        assert missing.text == "404 Not Found: upstream refused GET /api/v1/images/999999999?format=json\n"
    else:
        assert b"<title>404 Not Found</title>" in missing.content
        with pytest.raises(UnicodeDecodeError):
            missing.content.decode("utf-8")
