"""CarCutterHook against the Car-Cutter stand-in over real HTTP: every operation and every error class."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from PIL import Image

from tests.carcutter.conftest import CONN_ID, connection_json, counts, presign
from tests.photos import car_photo, overlay_png
from vehicle_photos.carcutter.exceptions import (
    AuthError,
    BadRequestError,
    ConfigError,
    CreditsError,
    ExpiredError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    error_from_response,
)
from vehicle_photos.carcutter.hooks.carcutter import CarCutterHook, decode_sync_result
from vehicle_photos.carcutter.utils import paths
from vehicle_photos.carcutter.utils.connection import CarCutterSettings
from vehicle_photos.carcutter.utils.statuses import chunk_for_status, status_query


def wait_final(hook: CarCutterHook, urls: list[str]) -> None:
    deadline = time.monotonic() + 20
    while not all(s.finished for s in hook.get_image_statuses(urls)):
        assert time.monotonic() < deadline, "images never finished"
        time.sleep(0.1)


@pytest.fixture
def hook(carcutter) -> CarCutterHook:
    return CarCutterHook(CONN_ID)


# Connection


def test_base_url_defaults_to_the_service_and_refuses_plain_http_off_loopback():
    def settings(host: str | None, port: int | None = None) -> CarCutterSettings:
        conn = SimpleNamespace(conn_id="c", host=host, port=port, schema=None, password="t", extra_dejson={})
        return CarCutterSettings.from_connection(conn)

    assert settings(None).base_url == "https://api.car-cutter.com"
    assert settings("api.example.com", 8443).base_url == "https://api.example.com:8443"
    assert settings("http://127.0.0.1:8601/", 0).base_url == "http://127.0.0.1:8601"  # the UI posts port 0
    with pytest.raises(ConfigError, match="plain http"):
        settings("http://api.example.com")


def test_settings_need_a_token_and_never_show_it():
    conn = SimpleNamespace(conn_id="c", host=None, port=None, schema=None, password="s3cr3t-token", extra_dejson={})
    settings = CarCutterSettings.from_connection(conn)
    assert "s3cr3t" not in repr(settings)
    assert settings.auth_header["Authorization"] == "Bearer s3cr3t-token"
    with pytest.raises(ConfigError, match="no API token"):
        CarCutterSettings.from_connection(SimpleNamespace(**{**vars(conn), "password": None}))


def test_test_connection_button(hook, carcutter, monkeypatch):
    ok, message = hook.test_connection()
    assert ok, message
    monkeypatch.setenv("AIRFLOW_CONN_CARCUTTER_WRONG", connection_json(carcutter.url, "wrong-token"))
    ok, message = CarCutterHook("carcutter_wrong").test_connection()
    assert not ok
    assert "unauthorized" in message
    assert "wrong-token" not in message


# Vehicles


def test_vehicle_submit_update_status_list_shotlist_delete(hook):
    for n in range(5):
        hook.submit_vehicle(f"VIN{n:014d}", vehicle_manufacturer="VW", vehicle_color="red" if n % 2 else "blue")
    updated = hook.submit_vehicle("VIN00000000000000", vehicle_model="Golf")
    assert updated["vehicle_model"] == "Golf"
    assert updated["vehicle_manufacturer"] == "VW"
    assert hook.get_vehicle("VIN00000000000001")["app_status"] == "new"
    assert len(hook.get_shotlist()) == 5

    reds = list(hook.list_vehicles(customer="dealer", filters={"vehicle_color": ["red"]}, page_size=1))
    assert sorted(v["vehicle_id"] for v in reds) == ["VIN00000000000001", "VIN00000000000003"]
    everything = list(hook.list_vehicles(customer="dealer", page_size=2, sort_direction="ASC"))
    assert len(everything) == 5
    assert everything[-1]["vehicle_id"] == "VIN00000000000000"  # updated last

    assert hook.delete_vehicle("VIN00000000000002")["app_status"] == "deleted"
    assert len(hook.get_shotlist()) == 4
    with pytest.raises(NotFoundError):
        hook.get_vehicle("NO-SUCH-VEHICLE")
    with pytest.raises(ConfigError, match="unknown vehicle fields"):
        hook.submit_vehicle("VIN", colour="red")


def test_vehicle_list_needs_a_customer(hook):
    with pytest.raises(ConfigError, match="customer"):
        next(hook.list_vehicles())


# Synchronous processing


def test_sync_cut_returns_image_bytes_and_none_for_cut_type_none(hook, carcutter):
    photo = car_photo(1)
    result = hook.process_sync(
        cut_type="complete", image=photo, resolution=(160, 120), padding_x=0.1, padding_y=0.05,
        blurring_license_plate=True, custom_json={"ref": 1},
        background=car_photo(2), license_plate=overlay_png(), overlay=overlay_png((96, 64)),
    )  # fmt: skip
    assert Image.open(io.BytesIO(result)).format in {"JPEG", "PNG"}
    assert hook.process_sync(cut_type="none", image=photo) is None
    assert counts(carcutter)["syncSubmit"] == 2


def test_sync_cut_refuses_bad_input(hook, s3_client, put_photos):
    with pytest.raises(BadRequestError, match="padding_x"):
        hook.process_sync(cut_type="complete", image=car_photo(1), padding_x=2)
    with pytest.raises(BadRequestError, match="license_plate"):
        hook.process_sync(cut_type="complete", image=car_photo(1), license_plate=car_photo(3))
    with pytest.raises(ConfigError):
        hook.process_sync(cut_type="sideways", image=car_photo(1))
    with pytest.raises(ConfigError):
        hook.process_sync(cut_type="complete")
    url = presign(s3_client, put_photos(per_vehicle=1)[0]["source"])
    assert hook.process_sync(cut_type="blur", image_url=url)


def test_sync_answer_decoding():
    raw = b"\xff\xd8 image bytes"
    encoded = base64.b64encode(raw).decode()
    assert decode_sync_result(encoded) == raw
    assert decode_sync_result(json.dumps(encoded)) == raw
    assert decode_sync_result(f"data:image/jpeg;base64,{encoded}\n") == raw
    assert decode_sync_result("{}") is None


# Asynchronous processing


def test_submission_is_split_into_requests_of_sixty(hook, carcutter, s3_client, put_photos):
    source = put_photos(per_vehicle=1)[0]["source"]
    urls = [presign(s3_client, source, expires=3600 + n) for n in range(130)]  # 130 distinct URLs
    answered = []
    for chunk, statuses in hook.iter_submit_images(urls, cut_type="complete", vehicle_id="VIN1", custom_json="{}"):
        assert len(chunk) <= paths.MAX_IMAGES_PER_SUBMISSION
        answered.extend(statuses)
    assert [s.image for s in answered] == urls
    assert counts(carcutter)["asyncSubmit"] == 3
    assert set(carcutter.ledger()["charges"].values()) == {1}


def test_status_of_many_urls_is_batched_by_url_length(hook, carcutter, s3_client, put_photos):
    sources = [image["source"] for image in put_photos(per_vehicle=4)]
    urls = [presign(s3_client, source) for source in sources] * 10  # the same four, asked about 10 times
    hook.submit_images(urls[:4])
    limit = 1500
    chunks = chunk_for_status(hook.settings.base_url, paths.ASYNC_STATUS, urls, limit)
    assert all(len(f"{hook.settings.base_url}{paths.ASYNC_STATUS}?{status_query(c)}") <= limit for c in chunks)
    statuses = hook.get_image_statuses(urls, max_url_length=limit)
    assert len(statuses) == len(urls)
    assert counts(carcutter)["asyncStatus"] == len(chunks) > 1
    assert {s.image for s in statuses} == set(urls[:4])


def test_unknown_url_is_not_finished(hook):
    (status,) = hook.get_image_statuses(["http://127.0.0.1:1/never-submitted.jpg"])
    assert status.status == "unknown"
    assert not status.finished
    assert not status.known_to_service


def test_result_streams_into_a_file_object_and_404_410_are_distinct(hook, carcutter, s3_client, put_photos):
    url = presign(s3_client, put_photos(per_vehicle=1)[0]["source"])
    with pytest.raises(NotFoundError):
        hook.download_result(url, io.BytesIO())
    (submitted,) = hook.submit_images([url], cut_type="complete", webhook_url=None)
    assert submitted.status == "processing"
    wait_final(hook, [url])
    (final,) = hook.get_image_statuses([url])
    assert final.status == "final"
    assert final.angle == ["exterior", "side-left"]
    assert final.quality in {"ok", "retake"}
    sink = io.BytesIO()
    assert hook.download_result(url, sink) == len(sink.getvalue()) > 0
    Image.open(sink).verify()

    carcutter.configure(result_expiry_seconds=0)
    with pytest.raises(ExpiredError):
        hook.download_result(url, io.BytesIO())


def test_webhook_url_and_custom_json_are_sent(hook, carcutter, s3_client, put_photos):
    """A real HTTP listener receives the webhook Car-Cutter posts when the submission is processed (on an
    account with webhooks enabled)."""
    carcutter.configure(webhooks_enabled=True)
    received: list[dict] = []

    class Webhook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = presign(s3_client, put_photos(per_vehicle=1)[0]["source"])
        webhook = f"http://127.0.0.1:{server.server_port}/carcutter-done"
        hook.submit_images([url], webhook_url=webhook, custom_json={"listing": "2026-11-24"}, processing_speed="lazy")
        wait_final(hook, [url])
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.shutdown()
    assert [image["image"] for image in received[0]["data"]["images"]] == [url]
    with pytest.raises(BadRequestError, match="custom_json"):
        hook.submit_images([url], custom_json="{not json")


def test_lost_submission_answers_are_reconciled_not_billed_twice(hook, carcutter, s3_client, put_photos):
    """The service processes the request but the answer never arrives: the hook asks the status endpoint
    before trying again, so no URL is submitted (and billed) twice."""
    urls = [presign(s3_client, image["source"]) for image in put_photos(per_vehicle=3)]
    carcutter.configure(lost_response_ratio=0.6, seed=3)
    statuses = hook.submit_images(urls, cut_type="complete")
    carcutter.configure(lost_response_ratio=0.0)
    assert counts(carcutter)["asyncStatus"] >= 1  # a lost answer was reconciled
    assert all(s.known_to_service for s in statuses)
    assert carcutter.ledger()["charges"] == dict.fromkeys(urls, 1)


@pytest.mark.parametrize("lost_as", ["dropped", "502"])
def test_a_lost_answer_is_settled_by_status_through_a_registration_delay(
    hook, carcutter, s3_client, put_photos, lost_as
):
    """Issue 18, point 1: Car-Cutter bills the submission, loses the answer and files the URL two seconds later.
    The hook keeps asking the status endpoint (for the registration grace period) instead of submitting again
    when the first status answer says `unknown`."""
    urls = [presign(s3_client, image["source"]) for image in put_photos(per_vehicle=2)]
    carcutter.configure(lost_answers=1, lost_answer_as=lost_as, registration_delay_seconds=2.0)
    statuses = hook.submit_images(urls, cut_type="complete")
    assert carcutter.ledger()["charges"] == dict.fromkeys(urls, 1)
    assert counts(carcutter)["asyncSubmit"] == 1
    assert all(s.known_to_service for s in statuses)


def test_a_submission_held_past_the_read_timeout_is_settled_by_status(carcutter, s3_client, put_photos, monkeypatch):
    """Point 1 with a queue: Car-Cutter holds the request past the client's timeout, then bills it and files it
    late. The timed-out POST may have arrived, so the hook asks the status endpoint instead of posting again."""
    monkeypatch.setenv("AIRFLOW_CONN_CARCUTTER_IMPATIENT", connection_json(carcutter.url, carcutter.token, timeout=0.5))
    carcutter.configure(hold_submission_seconds=1.5, registration_delay_seconds=1.0)
    urls = [presign(s3_client, image["source"]) for image in put_photos(per_vehicle=2)]
    statuses = CarCutterHook("carcutter_impatient").submit_images(urls, cut_type="complete")
    assert carcutter.ledger()["charges"] == dict.fromkeys(urls, 1)
    assert all(s.known_to_service for s in statuses)


# Features and annotations


def test_the_five_feature_operations(hook):
    first = hook.submit_feature("VIN1", title="Navigation", icon="nav", type="text", description="Built in")
    second = hook.submit_feature("VIN1", title="Manual", icon="doc", type="href", detail_image_id="img-1")
    assert {f["feature_id"] for f in hook.get_features("VIN1")} == {first, second}
    assert hook.get_feature(first)["title"] == "Navigation"
    assert hook.delete_feature(first) == [first]
    with pytest.raises(NotFoundError):
        hook.get_feature(first)
    assert hook.delete_features("VIN1") == [second]
    assert hook.get_features("VIN1") == []


def test_the_five_annotation_operations(hook):
    first = hook.submit_annotation("img-1", 120, 80, location="wheel")
    second = hook.submit_annotation("img-1", 10, 20)
    hook.submit_annotation("img-2", 5, 5)
    assert {a["annotation_id"] for a in hook.get_annotations("img-1")} == {first, second}
    assert hook.get_annotation(first)["location"] == "wheel"
    assert hook.delete_annotation(first) == [first]
    with pytest.raises(NotFoundError):
        hook.get_annotation(first)
    assert hook.delete_annotations("img-1") == [second]
    assert hook.get_annotations("img-1") == []
    assert len(hook.get_annotations("img-2")) == 1


# Errors


@pytest.mark.parametrize("nest_errors", [True, False])
def test_401_json_nested_or_flat(carcutter, monkeypatch, nest_errors):
    carcutter.configure(nest_errors=nest_errors)
    monkeypatch.setenv("AIRFLOW_CONN_CARCUTTER_WRONG", connection_json(carcutter.url, "wrong-token"))
    with pytest.raises(AuthError) as caught:
        CarCutterHook("carcutter_wrong").get_shotlist()
    assert caught.value.status == 401
    assert caught.value.code == 401
    assert "unauthorized" in caught.value.message


def test_401_with_an_html_body_is_still_a_clear_auth_error(carcutter, monkeypatch):
    carcutter.configure(html_401=True)
    monkeypatch.setenv("AIRFLOW_CONN_CARCUTTER_WRONG", connection_json(carcutter.url, "wrong-token"))
    with pytest.raises(AuthError, match=r"bearer token .* refused.*401 Authorization Required"):
        CarCutterHook("carcutter_wrong").get_shotlist()


def test_403_forbidden_token(carcutter, monkeypatch):
    carcutter.configure(forbidden_token="read-only-token")
    monkeypatch.setenv("AIRFLOW_CONN_CARCUTTER_RO", connection_json(carcutter.url, "read-only-token"))
    with pytest.raises(AuthError):
        CarCutterHook("carcutter_ro").get_shotlist()


def test_402_is_final_and_never_retried(hook, carcutter, s3_client, put_photos):
    carcutter.configure(credits=0)
    url = presign(s3_client, put_photos(per_vehicle=1)[0]["source"])
    with pytest.raises(CreditsError, match="Credits exceeded"):
        hook.submit_images([url])
    assert counts(carcutter)["asyncSubmit"] == 1
    assert carcutter.ledger()["charges"] == {}


def test_5xx_is_retried_with_backoff_then_raised(hook, carcutter):
    carcutter.configure(error_5xx_ratio=1.0)
    with pytest.raises(ServerError):
        hook.get_shotlist()
    assert counts(carcutter)["vehicleShotlist"] == 1 + 3  # max_retries of the test connection


def test_dropped_connections_are_retried(hook, carcutter):
    carcutter.configure(drop_ratio=0.5, seed=11)
    for n in range(6):
        hook.submit_vehicle(f"VIN{n}")
    assert len(hook.get_shotlist()) == 6
    carcutter.configure(drop_ratio=1.0)
    with pytest.raises(TransportError):
        hook.get_shotlist()


def test_429_beyond_the_concurrency_cap_is_retried(hook, carcutter):
    carcutter.configure(concurrency_cap=1, latency_ms=150)
    with ThreadPoolExecutor(3) as pool:
        shotlists = list(pool.map(lambda _: hook.get_shotlist(), range(3)))
    assert shotlists == [[], [], []]
    assert carcutter.requests()["status_codes"].get("429", 0) >= 1


def test_error_bodies_map_to_classes():
    """Statuses the stand-in has no knob for (413, 429 body, 5xx variants) and body shapes."""
    assert isinstance(error_from_response(413, '{"code": 413, "message": "too many vehicles"}'), BadRequestError)
    assert isinstance(error_from_response(429, ""), RateLimitedError)
    assert isinstance(error_from_response(503, "<html>busy</html>"), ServerError)
    nested = error_from_response(410, '{"error": {"code": 410, "message": "file does not exist anymore."}}')
    assert isinstance(nested, ExpiredError)
    assert nested.message == "file does not exist anymore."
    assert error_from_response(400, '{"error": "bad thing"}').message == "bad thing"
    secret = error_from_response(401, '{"message": "token abc123 is unauthorized"}', secret="abc123")
    assert "abc123" not in str(secret)
    assert not CreditsError.retryable
    assert ServerError.retryable and RateLimitedError.retryable
