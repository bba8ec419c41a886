"""What the Car-Cutter stand-in does with images nobody should pay for: bombs, broken files, slow servers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from dev.standins import guesses
from dev.standins.carcutter import paths
from tests.standins.carcutter.calls import error_of, submit, wait_until_settled
from tests.standins.conftest import blank_png

MIB = 2**20


def sync(api: requests.Session, cc, image: bytes | None = None, **fields: str) -> requests.Response:
    form = {"cut_type": (None, "complete"), **{name: (None, value) for name, value in fields.items()}}
    if image is not None:
        form["image"] = ("car.png", image)
    return api.post(f"{cc.url}{paths.SYNC_SINGLE_SEGMENT}", files=form, timeout=60)


def errors(cc) -> dict[str, dict[str, str]]:
    return requests.get(f"{cc.url}/_emulator/errors", timeout=10).json()


def test_images_over_the_pixel_cap_are_refused_from_their_header(cc, api, presign, peak_memory):
    bomb = blank_png(30_000, 30_000)  # 900 MP in about 110 KB: beyond Pillow's own bomb limit
    over_cap = blank_png(8_000, 6_400)  # 51.2 MP: only the stand-in's cap stops it
    assert len(bomb) < MIB and guesses.CC_MAX_IMAGE_PIXELS < 8_000 * 6_400
    bomb_url, over_cap_url = presign("bomb/1_front.png", bomb), presign("bomb/2_rear.png", over_cap)

    with peak_memory("carcutter") as memory:
        submit(api, cc, [bomb_url, over_cap_url]).raise_for_status()
        settled = wait_until_settled(api, cc, [bomb_url, over_cap_url])
        assert "pixels" in error_of(sync(api, cc, image_url=bomb_url), 400)
        assert "pixels" in error_of(sync(api, cc, image=over_cap), 400)
        assert "pixels" in error_of(sync(api, cc, image=bomb), 400)
        assert error_of(sync(api, cc, image=blank_png(64, 48), resolution="10000x6000"), 400)

    assert memory.peak_mib < 600, f"the stand-in reached {memory.peak_mib:.0f} MiB"
    for url in (bomb_url, over_cap_url):
        assert (settled[url]["status"], settled[url]["phase"]) == ("error", guesses.CC_DECODE_ERROR_PHASE)
        assert "pixels" in errors(cc)[url]["reason"]
    assert cc.ledger()["charges"] == {bomb_url: 1, over_cap_url: 1}  # billed at submission, sync never


def test_unusable_image_urls_are_billed_then_end_in_error_with_a_reason(cc, api, photo, presign):
    truncated = presign("bad/1_front.jpg", photo(size=(640, 480))[:4000])
    html = presign("bad/2_rear.jpg", b"<!doctype html><html><body>Not found</body></html>", "text/html")
    empty = presign("bad/3_side-left.jpg", b"")
    missing = presign("bad/4_side-right.jpg", b"x").replace("4_side-right", "5_nothing-here")
    urls = [truncated, html, empty, missing]

    submit(api, cc, urls).raise_for_status()
    assert cc.ledger()["charges"] == dict.fromkeys(urls, 1)
    settled = wait_until_settled(api, cc, urls)
    assert {image["status"] for image in settled.values()} == {"error"}
    assert all(image["quality"] is None for image in settled.values())
    reasons = {url: (settled[url]["phase"], reason["reason"]) for url, reason in errors(cc).items()}
    assert reasons == {
        truncated: ("analyzing", "the image data cannot be decoded"),
        html: ("analyzing", "not a readable image"),
        empty: ("analyzing", "not a readable image"),
        missing: ("downloading", "image download answered HTTP 404"),
    }
    for url in urls:
        assert error_of(api.get(f"{cc.url}{paths.ASYNC_RESULT}", params={"image_url": url}, timeout=10), 404)
    for url in (truncated, html, empty):
        assert error_of(sync(api, cc, image_url=url), 400)
    assert cc.ledger()["charges"] == dict.fromkeys(urls, 1)  # sync bills only what it could process


@pytest.fixture
def dripping_server() -> Iterator[tuple[str, dict]]:
    """Announces a large JPEG, then sends one byte every 50 ms: every read succeeds, the body never ends."""
    sent = {"bytes": 0}

    class Drip(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            for _ in range(1200):  # at most one minute
                try:
                    self.wfile.write(b"\xff")
                    self.wfile.flush()
                except OSError:
                    return
                sent["bytes"] += 1
                time.sleep(0.05)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/slow/1_front.jpg", sent
    server.shutdown()


def test_a_dripping_server_cannot_hold_a_fetch_beyond_the_total_deadline(cc, api, dripping_server):
    url, sent = dripping_server
    cc.configure(fetch_timeout_seconds=1)
    submit(api, cc, [url]).raise_for_status()
    settled = wait_until_settled(api, cc, [url])
    assert (settled[url]["status"], settled[url]["phase"]) == ("error", "downloading")
    assert errors(cc)[url]["reason"] == "image download took longer than 1 s"
    assert "took longer than 1 s" in error_of(sync(api, cc, image_url=url), 400)
    # two fetches of about 1 s each at 20 bytes a second; a per-read timeout would have read on for a minute
    assert sent["bytes"] < 200
