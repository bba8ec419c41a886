"""The Car-Cutter client takes the other plausible answers too: status entries naming URLs normalised, a status
request refused as too long (414), feature fields in the query, error bodies that are not JSON. Each test drives
the stand-in into that answer (its knobs: dev/standins/carcutter/contract.py)."""

from __future__ import annotations

import asyncio
import io
import re
import time

import pytest

from tests.carcutter.conftest import CONN_ID, connection_json, counts, presign
from tests.carcutter.test_trigger import make_trigger, run_trigger
from vehicle_photos.carcutter.exceptions import (
    AuthError,
    BadRequestError,
    ConfigError,
    CreditsError,
    NotFoundError,
    ServerError,
)
from vehicle_photos.carcutter.hooks.carcutter import CarCutterHook
from vehicle_photos.carcutter.hooks.carcutter_async import CarCutterAsyncHook
from vehicle_photos.carcutter.sensors.image_status import CarCutterImageStatusSensor
from vehicle_photos.carcutter.triggers.batch_status import CarCutterBatchStatusTrigger
from vehicle_photos.carcutter.utils import paths
from vehicle_photos.carcutter.utils.statuses import canonical_url, status_url_length

SIGNATURE = re.compile(r"Signature|AWSAccessKeyId|X-Amz-Credential", re.IGNORECASE)


def wait_finished(hook: CarCutterHook, urls: list[str]) -> list:
    deadline = time.monotonic() + 20
    while True:
        statuses = hook.get_image_statuses(urls)
        if len(statuses) == len(urls) and all(s.finished for s in statuses):
            return statuses
        assert time.monotonic() < deadline, f"not finished: {statuses}"
        time.sleep(0.1)


@pytest.fixture
def urls(carcutter, s3_client, put_photos) -> list[str]:
    return [presign(s3_client, image["source"]) for image in put_photos(vehicles=2, per_vehicle=3)]


def swapped_query(url: str) -> str:
    """The same object, its first two query parameters swapped: another URL of the same canonical form."""
    base, _, query = url.partition("?")
    first, second, *rest = query.split("&")
    return f"{base}?{'&'.join([second, first, *rest])}"


# Status entries that name their image normalised


def test_statuses_are_matched_when_car_cutter_echoes_urls_normalised(carcutter, urls):
    carcutter.configure(status_url_echo="normalised")
    hook = CarCutterHook(CONN_ID)
    submitted = hook.submit_images(urls, cut_type="complete")
    assert len(submitted) == len(urls)
    echoed = hook._json("GET", paths.ASYNC_STATUS, params={"image_url": urls[0]})["data"]["images"][0]["image"]
    assert echoed != urls[0] and canonical_url(echoed) == canonical_url(urls[0])  # the stand-in really normalises

    statuses = wait_finished(hook, urls)
    assert [s.image for s in statuses] == urls and {s.status for s in statuses} == {"final"}
    sensor = CarCutterImageStatusSensor(task_id="wait", image_urls=urls, carcutter_conn_id=CONN_ID)
    assert sensor.poke({}).is_done
    event = run_trigger(make_trigger(urls, timeout=15))
    assert event["status"] == "complete" and all(image["finished"] for image in event["images"])


def test_two_urls_of_one_canonical_form_never_share_an_entry(carcutter, urls):
    """`?a&b` and `?b&a` name the same object but are two submissions: a normalised echo must not let one's
    status stand for the other's, in the sync hook or the async one."""
    carcutter.configure(status_url_echo="normalised")
    hook = CarCutterHook(CONN_ID)
    first, second = urls[0], swapped_query(urls[0])
    assert first != second and canonical_url(first) == canonical_url(second)
    hook.submit_images([first])
    wait_finished(hook, [first])
    carcutter.configure(processing_seconds=60)
    hook.submit_images([second])

    asked = [first, second, urls[1]]
    statuses = {s.image: s.status for s in hook.get_image_statuses(asked)}
    assert statuses == {first: "final", second: "processing", urls[1]: "unknown"}

    async def asked_async() -> dict[str, str | None]:
        async with CarCutterAsyncHook(CONN_ID) as async_hook:
            return {s.image: s.status for s in await async_hook.get_image_statuses(asked)}

    assert asyncio.run(asked_async()) == statuses


# A status request refused as too long


def test_a_414_splits_the_status_request_and_later_requests_are_shorter(carcutter, urls):
    hook = CarCutterHook(CONN_ID)
    hook.submit_images(urls)
    whole = status_url_length(hook.settings.base_url, paths.ASYNC_STATUS, urls)
    carcutter.configure(max_request_target=whole // 2)  # the stand-in's limit: about half of all six URLs

    statuses = hook.get_image_statuses(urls)
    assert [s.image for s in statuses] == urls and all(s.known_to_service for s in statuses)
    refused = carcutter.requests()["status_codes"]["414"]
    assert refused >= 1 and hook.status_url_limit < whole
    hook.get_image_statuses(urls)
    assert carcutter.requests()["status_codes"]["414"] == refused, "the hook asks within the limit it learnt"


def test_a_414_never_ends_the_trigger(carcutter, urls):
    hook = CarCutterHook(CONN_ID)
    hook.submit_images(urls)
    carcutter.configure(max_request_target=status_url_length(hook.settings.base_url, paths.ASYNC_STATUS, urls) // 3)
    event = run_trigger(make_trigger(urls, timeout=20))
    assert event["status"] == "complete" and all(image["finished"] for image in event["images"])
    assert carcutter.requests()["status_codes"].get("414", 0) >= 1


def test_a_url_too_long_to_ask_about_alone_is_left_unanswered_not_a_crash(carcutter, urls):
    hook = CarCutterHook(CONN_ID)
    hook.submit_images(urls[:1])
    carcutter.configure(max_request_target=200)
    assert hook.get_image_statuses(urls[:1]) == []
    event = run_trigger(make_trigger(urls[:1], timeout=1.5))
    assert event["status"] == "timeout" and event["images"] == [{"answered": False, "known": False, "finished": False}]


# Feature fields in the query


@pytest.mark.parametrize("service_reads", ["query", "query-ignoring-body"])
def test_features_and_annotations_with_fields_in_the_query(carcutter, monkeypatch, service_reads):
    carcutter.configure(feature_params_in=service_reads)
    documented = CarCutterHook(CONN_ID)
    feature = documented.submit_feature("VIN1", title="Sunroof", icon="sun", type="text")
    if service_reads == "query":
        with pytest.raises(BadRequestError, match="not accepted in the body"):
            documented.get_features("VIN1")
    else:  # the dangerous reading: the body is dropped, so the documented call sees nothing
        assert documented.get_features("VIN1") == []

    monkeypatch.setenv("AIRFLOW_CONN_CARCUTTER_QUERY",
                       connection_json(carcutter.url, carcutter.token, feature_params_in="query"))  # fmt: skip
    hook = CarCutterHook("carcutter_query")
    assert [f["feature_id"] for f in hook.get_features("VIN1")] == [feature]
    assert hook.get_feature(feature)["title"] == "Sunroof"
    annotation = hook.submit_annotation("img-1", 10, 20, location="roof")
    assert [a["annotation_id"] for a in hook.get_annotations("img-1")] == [annotation]
    assert hook.get_annotation(annotation)["location"] == "roof"
    assert hook.delete_annotation(annotation) == [annotation] and hook.delete_annotations("img-1") == []
    assert hook.delete_feature(feature) == [feature] and hook.delete_features("VIN1") == []
    with pytest.raises(NotFoundError):
        hook.get_feature(feature)


def test_feature_params_in_is_checked(carcutter, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CARCUTTER_BAD",
                       connection_json(carcutter.url, carcutter.token, feature_params_in="header"))  # fmt: skip
    with pytest.raises(ConfigError, match="feature_params_in must be one of form, query"):
        CarCutterHook("carcutter_bad").get_features("VIN1")


# Error bodies that are not JSON


@pytest.mark.parametrize("style", ["html", "text", "empty"])
def test_non_json_error_bodies_are_typed_short_and_redacted(carcutter, urls, monkeypatch, style):
    carcutter.configure(error_body=style)
    hook = CarCutterHook(CONN_ID)
    with pytest.raises(NotFoundError) as missing:
        hook.download_result(urls[0], io.BytesIO())
    monkeypatch.setenv("AIRFLOW_CONN_CARCUTTER_WRONG", connection_json(carcutter.url, "wrong-token"))
    with pytest.raises(AuthError) as refused:
        CarCutterHook("carcutter_wrong").get_shotlist()
    carcutter.configure(credits=0)
    with pytest.raises(CreditsError) as no_credits:
        hook.submit_images(urls[:1])
    carcutter.configure(error_5xx_ratio=1.0)
    with pytest.raises(ServerError) as failed:
        hook.get_vehicle("VIN1")
    for error in (missing.value, refused.value, no_credits.value, failed.value):
        assert error.api == "Car-Cutter" and len(str(error)) < 400
        assert not SIGNATURE.search(str(error)) and "wrong-token" not in str(error)
    assert (missing.value.status, refused.value.status, no_credits.value.status) == (404, 401, 402)
    assert carcutter.ledger()["charges"] == {}


@pytest.mark.parametrize("style", ["html", "text", "empty"])
def test_non_json_error_bodies_never_crash_the_trigger(carcutter, urls, monkeypatch, style):
    carcutter.configure(error_body=style)
    CarCutterHook(CONN_ID).submit_images(urls[:2])
    monkeypatch.setenv("AIRFLOW_CONN_CARCUTTER_WRONG", connection_json(carcutter.url, "wrong-token"))
    wrong = CarCutterBatchStatusTrigger(image_urls=urls[:2], deadline=time.time() + 30,
                                        carcutter_conn_id="carcutter_wrong", poll_interval=0.1)  # fmt: skip
    refused = run_trigger(wrong)
    assert refused["status"] == "error" and "401" in refused["message"]
    assert not SIGNATURE.search(refused["message"])

    carcutter.configure(error_5xx_ratio=1.0)
    failing = run_trigger(make_trigger(urls[:2], timeout=1.5))
    assert failing["status"] == "timeout" and counts(carcutter)["asyncStatus"] >= 2
