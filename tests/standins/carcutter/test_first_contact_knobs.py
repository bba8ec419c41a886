"""The Car-Cutter stand-in is no more lenient than the documents, and each knob gives the other plausible answer
where they are silent (guesses.py, "First contact")."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
import requests

from dev.standins import guesses
from dev.standins.carcutter import paths
from dev.standins.carcutter.__main__ import KNOBS
from dev.standins.common import parse_knobs
from tests.standins.carcutter.calls import error_of, multipart, statuses, submit, wait_until_settled


def test_knobs_are_flags_and_environment_variables(monkeypatch):
    monkeypatch.setenv("STANDIN_ERROR_BODY", "html")
    flags = ["--feature-params-in", "query", "--webhooks-enabled", "--status-url-echo", "normalised"]
    knobs = parse_knobs("carcutter", "", KNOBS, [*flags, "--max-request-target", "900"])
    assert (knobs.error_body, knobs.feature_params_in, knobs.webhooks_enabled) == ("html", "query", True)
    assert (knobs.status_url_echo, knobs.max_request_target) == ("normalised", 900)
    defaults = parse_knobs("carcutter", "", KNOBS, [])
    assert (defaults.feature_params_in, defaults.webhooks_enabled, defaults.status_url_echo) == ("form", False, "exact")
    monkeypatch.delenv("STANDIN_ERROR_BODY")
    assert parse_knobs("carcutter", "", KNOBS, []).error_body == "json"


def test_fields_are_taken_only_where_the_documents_put_them(cc, api):
    url = "http://127.0.0.1:9/fields/1.jpg"
    submission = f"{cc.url}{paths.ASYNC_SUBMIT}"
    urlencoded = api.post(submission, data={"image_url": url}, timeout=10)
    assert error_of(urlencoded, 400) == guesses.CC_MULTIPART_REQUIRED_MESSAGE
    assert error_of(api.post(submission, json={"image_url": [url]}, timeout=10), 400)
    in_query = api.post(submission, params={"cut_type": "blur"}, files=multipart(image_url=url), timeout=10)
    assert error_of(in_query, 400) == "'cut_type' is not accepted in the query of this operation"
    vehicle = api.post(f"{cc.url}{paths.VEHICLE_SUBMIT}", data={"vehicle_id": "VIN1"}, timeout=10)
    assert error_of(vehicle, 400) == guesses.CC_MULTIPART_REQUIRED_MESSAGE
    assert api.post(f"{cc.url}{paths.VEHICLE_SUBMIT}", files=multipart(vehicle_id="VIN1"), timeout=10).ok

    # query operations read the query only: a field in a body is refused, whatever the body
    status = f"{cc.url}{paths.ASYNC_STATUS}"
    assert error_of(api.get(status, files=multipart(image_url=url), timeout=10), 400) == (
        "'image_url' is not accepted in the body of this operation"
    )
    assert error_of(api.get(status, data=b'{"image_url": "x"}', timeout=10), 400) == guesses.CC_NO_BODY_MESSAGE
    refused = api.delete(f"{cc.url}{paths.VEHICLE_DELETE}", files=multipart(vehicle_id="VIN1"), timeout=10)
    assert error_of(refused, 400)
    assert api.get(f"{cc.url}{paths.VEHICLE_STATUS}", params={"vehicle_id": "VIN1"}, timeout=10).ok


@pytest.mark.parametrize("mode", ["query", "query-ignoring-body"])
def test_feature_reads_and_deletes_can_take_the_query_instead(cc, api, mode):
    fields = multipart(vehicle_id="VIN1", title="Sunroof", icon="sun", type="text")
    feature = api.post(f"{cc.url}{paths.FEATURE_SUBMIT}", files=fields, timeout=10).json()["feature_id"]
    cc.configure(feature_params_in=mode)
    by_query = api.get(f"{cc.url}{paths.FEATURES_GET}", params={"vehicle_id": "VIN1"}, timeout=10)
    assert [f["feature_id"] for f in by_query.json()["features"]] == [feature]
    as_documented = api.get(f"{cc.url}{paths.FEATURES_GET}", files=multipart(vehicle_id="VIN1"), timeout=10)
    one_in_body = api.get(f"{cc.url}{paths.FEATURE_GET}", files=multipart(feature_id=feature), timeout=10)
    if mode == "query":
        assert error_of(as_documented, 400) == "'vehicle_id' is not accepted in the body of this operation"
        assert error_of(one_in_body, 400)
    else:  # the body is dropped unread: it looks as if nothing matched
        assert as_documented.json() == {"features": []} and one_in_body.json() == {"features": []}
        deleted = api.delete(f"{cc.url}{paths.FEATURE_DELETE}", files=multipart(feature_id=feature), timeout=10)
        assert deleted.json() == {"deleted_features": []}
        annotations = api.get(f"{cc.url}{paths.ANNOTATIONS_GET}", files=multipart(vehicle_id="img"), timeout=10)
        assert annotations.json() == {"annotations": []}
    assert api.delete(f"{cc.url}{paths.FEATURE_DELETE}", params={"feature_id": feature}, timeout=10).json() == {
        "deleted_features": [feature]
    }


def test_webhooks_are_sent_only_when_the_account_has_them(cc, api, webhook):
    hook_url, received = webhook
    cc.configure(fast=True, processing_seconds=0)
    first = "http://127.0.0.1:9/hook/1.jpg"
    submit(api, cc, [first], webhook_url=hook_url).raise_for_status()
    wait_until_settled(api, cc, [first])
    time.sleep(0.5)
    assert received == [] and cc.requests()["counts"]["asyncSubmit"] == 1
    assert requests.get(f"{cc.url}/_emulator/webhooks", timeout=10).json() == {"sent": 0, "failed": 0}

    cc.configure(webhooks_enabled=True)
    second = "http://127.0.0.1:9/hook/2.jpg"
    submit(api, cc, [second], webhook_url=hook_url).raise_for_status()
    deadline = time.monotonic() + 10
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [image["image"] for image in received[0]["data"]["images"]] == [second]


def test_status_can_echo_urls_normalised(cc, api):
    cc.configure(fast=True, processing_seconds=0, status_url_echo="normalised")
    submitted = "http://127.0.0.1:9/Echo/a%20car.jpg?X-Amz-Credential=key%2F2026%2Fs3&B=2&a=%7E1"
    normalised = "http://127.0.0.1:9/Echo/a%20car.jpg?B=2&X-Amz-Credential=key/2026/s3&a=~1"
    answer = submit(api, cc, [submitted]).json()["data"]["images"]
    assert [entry["image"] for entry in answer] == [normalised]
    assert [entry["image"] for entry in wait_until_settled(api, cc, [submitted]).values()] == [normalised]
    assert cc.ledger()["charges"] == {submitted: 1}  # the image is still the URL exactly as submitted
    never = "http://127.0.0.1:9/never.jpg?b=1&a=%2F"
    assert statuses(api, cc, [never])[0] == {"image": "http://127.0.0.1:9/never.jpg?a=/&b=1", "angle": [],
                                             "status": "unknown", "phase": "unknown", "quality": None}  # fmt: skip
    cc.configure(status_url_echo="exact")
    assert statuses(api, cc, [submitted])[0]["image"] == submitted


def test_a_request_target_over_the_limit_answers_414_before_anything_is_done(cc, api):
    assert parse_knobs("carcutter", "", KNOBS, []).max_request_target == guesses.CC_MAX_REQUEST_TARGET
    cc.configure(max_request_target=300)
    urls = [f"http://127.0.0.1:9/long/{n}.jpg?X-Amz-Signature={'0' * 40}" for n in range(4)]
    query = "&".join(f"image_url={quote(url, safe='')}" for url in urls)
    too_long = api.get(f"{cc.url}{paths.ASYNC_STATUS}?{query}", timeout=10)
    assert error_of(too_long, 414) == guesses.CC_URI_TOO_LONG_MESSAGE
    assert len(statuses(api, cc, urls, per_request=2)) == 4
    assert requests.get(f"{cc.url}/_emulator/config?{'x' * 400}=1", timeout=10).ok  # emulator endpoints: no limit
    cc.configure(max_request_target=0)
    assert api.get(f"{cc.url}{paths.ASYNC_STATUS}?{query}", timeout=10).ok


def test_error_bodies_can_be_a_proxy_page_text_or_nothing(cc, api):
    missing = f"{cc.url}{paths.ASYNC_RESULT}"
    signed = "http://127.0.0.1:9/x.jpg?X-Amz-Signature=feedface"
    cc.configure(error_body="html")
    page = api.get(missing, params={"image_url": signed}, timeout=10)
    assert page.status_code == 404 and page.headers["Content-Type"] == "text/html; charset=utf-8"
    with pytest.raises(UnicodeDecodeError):  # labelled UTF-8, written in Latin-1
        page.content.decode("utf-8")
    assert b"<title>404 Not Found</title>" in page.content and b"feedface" in page.content
    cc.configure(error_body="text", error_5xx_ratio=1.0)
    text = api.get(f"{cc.url}{paths.VEHICLE_SHOTLIST}", timeout=10)
    assert (text.status_code, text.headers["Content-Type"]) == (500, "text/plain; charset=utf-8")
    assert text.text == "500 Internal Server Error: upstream refused GET /\n"
    cc.configure(error_body="empty", error_5xx_ratio=0.0, concurrency_cap=1, latency_ms=300)
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: api.get(f"{cc.url}{paths.VEHICLE_SHOTLIST}", timeout=10), range(2)))
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert refused.content == b"" and "Content-Type" not in refused.headers and refused.headers["Retry-After"]
    cc.configure(error_body="json", concurrency_cap=0, latency_ms=0)
    assert error_of(api.get(missing, params={"image_url": signed}, timeout=10), 404) == "no such image"
