"""Typed errors, what is retried and how long the hook waits, against real servers."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.clippingmagic.conftest import SleepRecorder, jpeg_bytes, use_connection
from vehicle_photos.clippingmagic.exceptions import (
    ApiError,
    AuthError,
    BadRequestError,
    CreditsError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from vehicle_photos.clippingmagic.hooks.clippingmagic import ClippingMagicHook
from vehicle_photos.clippingmagic.utils.models import ALPHA_MASK_PNG, CLIPPING_PATH_SVG

BASE = 0.05


def test_wrong_api_key_is_an_authentication_error_and_the_test_button_says_so(hook_factory, cm, monkeypatch):
    hook = ClippingMagicHook(use_connection(monkeypatch, "cm_wrong", host=cm.url, login=cm.api_id, password="wrong"))

    with pytest.raises(AuthError) as raised:
        hook.get_account()

    assert raised.value.status == 401 and isinstance(raised.value.code, int) and raised.value.message
    ok, message = hook.test_connection()
    assert not ok and "401" in message
    assert cm.requests()["status_codes"].get("401") == 2, "a 401 is not retried"


def test_plain_http_is_refused_except_to_loopback(hook_factory, cm, monkeypatch):
    conn_id = use_connection(monkeypatch, "cm_plain", host="http://clippingmagic.example.com", login="1", password="k")
    ok, message = ClippingMagicHook(conn_id).test_connection()
    assert not ok and "refusing plain http" in message


def test_unknown_image_is_not_found(hook_factory, cm):
    with pytest.raises(NotFoundError) as raised:
        hook_factory().get_image(999_999_999)
    assert raised.value.status == 404


def test_downloading_before_any_result_is_bad_input_and_not_retried(hook_factory, cm):
    hook = hook_factory()
    image = hook.upload(jpeg_bytes(), filename="car.jpg", test=True)

    with pytest.raises(BadRequestError) as raised:
        hook.download(image.id, io.BytesIO())

    assert raised.value.status == 400
    assert cm.requests()["counts"]["download"] == 1


def test_no_credits_is_a_final_billing_error(hook_factory, cm):
    cm.configure(credits=0)
    with pytest.raises(CreditsError) as raised:
        hook_factory().auto_clip(jpeg_bytes(), io.BytesIO(), filename="car.jpg")
    assert raised.value.status == 402
    assert cm.requests()["counts"]["upload"] == 1


def test_server_errors_are_retried_with_bounded_exponential_backoff(hook_factory, cm):
    cm.configure(error_5xx_ratio=1.0)
    sleep = SleepRecorder()

    with pytest.raises(ServerError) as raised:
        hook_factory(max_attempts=4, retry_wait_min=BASE, retry_wait_max=3 * BASE, sleep=sleep).get_account()

    assert raised.value.status >= 500
    (waits,) = sleep.waits.values()
    assert waits == pytest.approx([BASE, 2 * BASE, 3 * BASE]), "doubling (next: 4 x base), capped at 3 x base"
    assert sum(n for code, n in cm.requests()["status_codes"].items() if code.startswith("5")) == 4


def test_dropped_connections_are_retried(hook_factory, cm):
    cm.configure(drop_ratio=0.5, seed=3)
    hook = hook_factory(max_attempts=12)
    accounts = [hook.get_account() for _ in range(8)]
    assert all("credits" in account for account in accounts)
    assert cm.requests()["dropped"] > 0


def test_a_lost_upload_answer_never_leads_to_a_second_paid_upload(hook_factory, cm):
    cm.configure(lost_response_ratio=0.5, seed=11)
    hook = hook_factory(max_attempts=12)
    names = [f"car-{n}.unique-token.jpg" for n in range(4)]

    for name in names:
        hook.auto_clip(jpeg_bytes(), io.BytesIO(), filename=name)

    review_names = [f"review-{n}.unique-token.jpg" for n in range(3)]
    for name in review_names:
        hook.upload(jpeg_bytes(), filename=name)  # free, but a duplicate would confuse the person reviewing

    cm.configure(lost_response_ratio=0.0)
    uploaded = [image.original_filename for image in hook.list_images()]
    assert sorted(uploaded) == sorted(names + review_names), "each image was uploaded exactly once"
    assert sorted(cm.ledger()["charges"].values()) == [1, 1, 1, 1]
    assert cm.requests()["lost_responses"] > 0


def test_429_backs_off_linearly_per_thread_and_resets_after_a_success(hook_factory, cm):
    """Documented: wait 5 s, 10 s, 15 s... per consecutive 429, per thread, reset after a success (base shrunk)."""
    cm.configure(concurrency_cap=1, latency_ms=600)
    sleep = SleepRecorder()
    hook = hook_factory(rate_limit_wait=BASE, max_rate_limit_waits=50, sleep=sleep)

    def hold_the_only_slot() -> threading.Thread:
        blocker = threading.Thread(target=requests.get, args=(f"{cm.url}/api/v1/account",), kwargs={"timeout": 10})
        blocker.start()
        time.sleep(0.15)  # the blocker is now in flight (it takes 600 ms)
        return blocker

    def call_account() -> None:
        hook.get_account()

    blocker = hold_the_only_slot()
    workers = [threading.Thread(target=call_account, name=f"worker-{n}") for n in range(2)]
    for worker in workers:
        worker.start()
    for thread in [blocker, *workers]:
        thread.join()

    for name in ("worker-0", "worker-1"):
        waits = sleep.waits[name]
        assert len(waits) >= 2, f"{name} should have met several 429s: {dict(sleep.waits)}"
        assert waits == [pytest.approx(BASE * n) for n in range(1, len(waits) + 1)], f"{name}: {waits}"

    # The same thread after its success starts again at one base wait.
    sleep.waits.clear()
    blocker = hold_the_only_slot()
    call_account()
    blocker.join()
    waits = sleep.waits[threading.current_thread().name]
    assert waits[:2] == [pytest.approx(BASE), pytest.approx(2 * BASE)]
    assert hook.rate_limits.count == 0
    assert cm.requests()["status_codes"]["429"] >= 6


def test_after_giving_up_on_429s_the_next_call_backs_off_from_the_start_again(hook_factory, cm):
    sleep = SleepRecorder()
    hook = hook_factory(rate_limit_wait=BASE, max_rate_limit_waits=3, sleep=sleep)
    cm.configure(rate_limit_next=4)

    with pytest.raises(RateLimitedError) as raised:
        hook.get_account()

    assert raised.value.status == 429
    assert sleep.waits[threading.current_thread().name] == pytest.approx([BASE, 2 * BASE, 3 * BASE])
    assert hook.rate_limits.count == 0, "giving up starts the count over"

    sleep.waits.clear()
    cm.configure(rate_limit_next=2)
    assert "credits" in hook.get_account()
    assert sleep.waits[threading.current_thread().name] == pytest.approx([BASE, 2 * BASE]), "not an instant failure"
    assert cm.requests()["status_codes"]["429"] == 6


def test_calls_that_return_files_accept_them(hook_factory, cm):
    """A strict server answers 406 to an Accept header that excludes the file a call returns."""
    cm.configure(strict_accept=True)
    hook = hook_factory()
    result = io.BytesIO()

    clipped = hook.auto_clip(jpeg_bytes(), result, filename="car.jpg", test=True)
    svg, mask = io.BytesIO(), io.BytesIO()
    hook.download(clipped.image_id, svg, result_format=CLIPPING_PATH_SVG)
    hook.download(clipped.image_id, mask, result_format=ALPHA_MASK_PNG)
    cm._emulator("POST", f"images/{clipped.image_id}/edit", json={"background": "#ffffff"})
    opaque = hook.download(clipped.image_id, io.BytesIO())

    assert (clipped.content_type, opaque.content_type) == ("image/png", "image/jpeg")
    assert svg.getvalue().lstrip().startswith(b"<svg") and mask.getvalue().startswith(b"\x89PNG")
    assert hook.get_image(clipped.image_id).result_revision == 2 and hook.get_account()["credits"] > 0
    assert "406" not in cm.requests()["status_codes"]


class _HtmlErrorServer(BaseHTTPRequestHandler):
    """A proxy in front of the API failing with an HTML page (no Error JSON Object), as the docs warn."""

    status = 502

    def do_GET(self) -> None:
        body = b"<html><body><h1>Bad Gateway</h1></body></html>"
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def html_error_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlErrorServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("status", "error_class"), [(502, ServerError), (403, AuthError)])
def test_non_json_error_bodies_become_typed_errors(hook_factory, monkeypatch, html_error_server, status, error_class):
    monkeypatch.setattr(_HtmlErrorServer, "status", status)
    host, port = html_error_server.server_address
    conn_id = use_connection(
        monkeypatch, "cm_html", host=f"http://{host}:{port}", login="1", password="key-key", extra={"max_attempts": 2}
    )

    with pytest.raises(error_class) as raised:
        ClippingMagicHook(conn_id).get_account()

    assert raised.value.status == status and raised.value.code is None
    assert "Bad Gateway" in raised.value.message
    assert isinstance(raised.value, ApiError) and raised.value.api == "Clipping Magic"
