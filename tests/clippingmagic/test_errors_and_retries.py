"""Typed errors, what is retried and how long the hook waits, against real servers."""

from __future__ import annotations

import io
import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from clippingmagic.exceptions import (
    AuthenticationError,
    BadInputError,
    BillingError,
    ClippingMagicError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from tests.clippingmagic.conftest import jpeg_bytes

BASE = 0.05


class SleepRecorder:
    """The hook's `sleep`: really waits, and remembers how long each thread was told to wait."""

    def __init__(self) -> None:
        self.waits: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.waits[threading.current_thread().name].append(round(seconds, 6))
        time.sleep(seconds)


def use_connection(monkeypatch, conn_id: str, **fields) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "clippingmagic", **fields}))


def test_wrong_api_key_is_an_authentication_error_and_the_test_button_says_so(hook_factory, cm, monkeypatch):
    use_connection(monkeypatch, "cm_wrong_key", host=cm.url, login=cm.api_id, password="not-the-key")
    hook = hook_factory(clippingmagic_conn_id="cm_wrong_key")

    with pytest.raises(AuthenticationError) as raised:
        hook.get_account()

    assert raised.value.status == 401 and isinstance(raised.value.code, int) and raised.value.message
    ok, message = hook.test_connection()
    assert not ok and "401" in message
    assert cm.requests()["status_codes"].get("401") == 2, "a 401 is not retried"


def test_plain_http_is_refused_except_to_loopback(hook_factory, cm, monkeypatch):
    use_connection(monkeypatch, "cm_plain_http", host="http://clippingmagic.example.com", login="1", password="k")
    ok, message = hook_factory(clippingmagic_conn_id="cm_plain_http").test_connection()
    assert not ok and "refusing plain http" in message


def test_unknown_image_is_not_found(hook_factory, cm):
    with pytest.raises(NotFoundError) as raised:
        hook_factory().get_image(999_999_999)
    assert raised.value.status == 404


def test_downloading_before_any_result_is_bad_input_and_not_retried(hook_factory, cm):
    hook = hook_factory()
    image = hook.upload(jpeg_bytes(), filename="car.jpg", test=True)

    with pytest.raises(BadInputError) as raised:
        hook.download(image.id, io.BytesIO())

    assert raised.value.status == 400
    assert cm.requests()["counts"]["download"] == 1


def test_no_credits_is_a_final_billing_error(hook_factory, cm):
    cm.configure(credits=0)
    with pytest.raises(BillingError) as raised:
        hook_factory().auto_clip(jpeg_bytes(), io.BytesIO(), filename="car.jpg")
    assert raised.value.status == 402
    assert cm.requests()["counts"]["upload"] == 1


def test_server_errors_are_retried_with_bounded_exponential_backoff(hook_factory, cm):
    cm.configure(error_5xx_ratio=1.0)
    sleep = SleepRecorder()

    with pytest.raises(ServerError) as raised:
        hook_factory(max_attempts=4, backoff_base_wait=BASE, backoff_max_wait=3 * BASE, sleep=sleep).get_account()

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

    cm.configure(lost_response_ratio=0.0)
    uploaded = [image.original_filename for image in hook.list_images()]
    assert sorted(uploaded) == names, "each image was uploaded exactly once"
    assert sorted(cm.ledger()["charges"].values()) == [1, 1, 1, 1]
    assert cm.requests()["lost_responses"] > 0


def test_429_backs_off_linearly_per_thread_and_resets_after_a_success(hook_factory, cm):
    """Documented: wait 5 s, 10 s, 15 s... per consecutive 429, per thread, reset after a success (base shrunk)."""
    cm.configure(concurrency_cap=1, latency_ms=600)
    sleep = SleepRecorder()
    hook = hook_factory(rate_limit_base_wait=BASE, max_rate_limit_waits=50, sleep=sleep)

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
    assert hook.consecutive_rate_limits == 0
    assert cm.requests()["status_codes"]["429"] >= 6


def test_too_many_429s_raise_rate_limit_error(hook_factory, cm):
    cm.configure(concurrency_cap=1, latency_ms=1500)
    hook = hook_factory(rate_limit_base_wait=0.01, max_rate_limit_waits=3, sleep=SleepRecorder())
    blocker = threading.Thread(target=requests.get, args=(f"{cm.url}/api/v1/account",), kwargs={"timeout": 10})
    blocker.start()
    time.sleep(0.2)
    try:
        with pytest.raises(RateLimitError) as raised:
            hook.get_account()
    finally:
        blocker.join()
    assert raised.value.status == 429


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


@pytest.mark.parametrize(("status", "error_class"), [(502, ServerError), (403, AuthenticationError)])
def test_non_json_error_bodies_become_typed_errors(hook_factory, monkeypatch, html_error_server, status, error_class):
    monkeypatch.setattr(_HtmlErrorServer, "status", status)
    host, port = html_error_server.server_address
    use_connection(monkeypatch, "cm_html", host=f"http://{host}:{port}", login="1", password="key-key")

    with pytest.raises(error_class) as raised:
        hook_factory(clippingmagic_conn_id="cm_html", max_attempts=2).get_account()

    assert raised.value.status == status and raised.value.code is None
    assert "Bad Gateway" in raised.value.message
    assert isinstance(raised.value, ClippingMagicError)
