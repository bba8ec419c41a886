"""Knobs that make the Car-Cutter stand-in give answers the real service may give and the documents hide."""

from __future__ import annotations

import hashlib

import pytest
import requests

from dev.standins import guesses
from dev.standins.carcutter import paths
from dev.standins.carcutter.__main__ import KNOBS
from dev.standins.common import parse_knobs
from tests.standins.carcutter.calls import error_of, result, statuses, submit, wait_until_settled


def test_new_knobs_are_flags_and_environment_variables(monkeypatch):
    monkeypatch.setenv("STANDIN_UNKNOWN_QUALITY_RATIO", "0.25")
    knobs = parse_knobs("carcutter", "", KNOBS, ["--unknown-url-status", "404", "--strict-accept"])
    assert (knobs.unknown_url_status, knobs.strict_accept, knobs.unknown_quality_ratio) == ("404", True, 0.25)
    assert (knobs.unknown_phase_ratio, knobs.sync_error_after_processing_ratio) == (0.0, 0.0)
    with pytest.raises(SystemExit):
        parse_knobs("carcutter", "", KNOBS, ["--unknown-url-status", "410"])


def test_a_url_never_submitted_is_an_unknown_entry_or_a_404_for_the_whole_call(cc, api):
    cc.configure(fast=True, processing_seconds=0)
    known, never_sent = "http://127.0.0.1:9/known/1.jpg", "http://127.0.0.1:9/never/2.jpg"
    submit(api, cc, [known]).raise_for_status()
    entries = statuses(api, cc, [known, never_sent])
    assert [entry["status"] for entry in entries][1] == "unknown"
    assert entries[1] == {"image": never_sent, "angle": [], "status": "unknown", "phase": "unknown", "quality": None}

    cc.configure(unknown_url_status="404")
    status_url = f"{cc.url}{paths.ASYNC_STATUS}"
    assert error_of(api.get(status_url, params={"image_url": [known, never_sent]}, timeout=10), 404) == "no such image"
    assert [entry["image"] for entry in statuses(api, cc, [known])] == [known]
    cc.configure(nest_errors=False)
    flat = api.get(status_url, params={"image_url": never_sent}, timeout=10)
    assert (flat.status_code, flat.json()) == (404, {"code": 404, "message": "no such image"})

    refused = requests.post(f"{cc.url}/_emulator/config", json={"unknown_url_status": "gone"}, timeout=10)
    assert refused.status_code == 400 and "unknown_url_status" in refused.text


def test_undocumented_quality_and_phase_values_for_a_seeded_share_of_images(cc, api):
    cc.configure(fast=True, processing_seconds=0, unknown_quality_ratio=0.5, unknown_phase_ratio=0.5)
    urls = [f"http://127.0.0.1:9/odd/{n}.jpg?signature=a" for n in range(40)]
    submit(api, cc, urls).raise_for_status()
    settled = wait_until_settled(api, cc, urls)
    assert {image["status"] for image in settled.values()} == {"final"}  # only statuses say "finished"
    blurry = {url for url, image in settled.items() if image["quality"] == guesses.CC_UNDOCUMENTED_QUALITY}
    upscaling = {url for url, image in settled.items() if image["phase"] == guesses.CC_UNDOCUMENTED_PHASE}
    assert 8 <= len(blurry) <= 32 and 8 <= len(upscaling) <= 32 and blurry != upscaling
    assert {image["quality"] for url, image in settled.items() if url not in blurry} <= {"ok", "retake"}
    assert {image["phase"] for url, image in settled.items() if url not in upscaling} == {"ready"}
    assert all(result(api, cc, url).status_code == 200 for url in list(blurry)[:3])

    resigned = [url.replace("signature=a", "signature=b") for url in urls]
    submit(api, cc, resigned).raise_for_status()
    again = wait_until_settled(api, cc, resigned)
    resigned_blurry = {url for url, image in again.items() if image["quality"] == guesses.CC_UNDOCUMENTED_QUALITY}
    assert {url.replace("signature=b", "signature=a") for url in resigned_blurry} == blurry

    cc.configure(seed=7)
    reseeded = {url for url, image in wait_until_settled(api, cc, urls).items() if image["quality"] == "blurry"}
    assert reseeded != blurry

    cc.configure(processing_seconds=30, unknown_phase_ratio=1.0)
    slow = "http://127.0.0.1:9/odd/slow.jpg"
    submit(api, cc, [slow]).raise_for_status()
    assert statuses(api, cc, [slow])[0]["status"] == "processing"
    assert statuses(api, cc, [slow])[0]["phase"] == guesses.CC_UNDOCUMENTED_PHASE


def test_sync_can_bill_and_then_answer_500_so_a_retry_bills_twice(cc, api, photo, presign):
    cc.configure(fast=True)
    image = photo()
    upload_key = "upload:sha256:" + hashlib.sha256(image).hexdigest()
    image_url = presign("sync/1_front.jpg", photo(size=(300, 200)))

    def sync(**source) -> requests.Response:
        form = {"cut_type": (None, "complete")}
        form |= {"image": ("car.jpg", source["image"])} if "image" in source else {"image_url": (None, source["url"])}
        return api.post(f"{cc.url}{paths.SYNC_SINGLE_SEGMENT}", files=form, timeout=60)

    cc.configure(sync_error_after_processing_ratio=1.0)
    assert error_of(sync(image=image), 500)
    assert error_of(sync(url=image_url), 500)
    assert cc.ledger()["charges"] == {upload_key: 1, image_url: 1}  # keys: bytes' digest, URL exactly as sent

    cc.configure(sync_error_after_processing_ratio=0.0)
    assert sync(image=image).status_code == 200
    assert cc.ledger()["charges"] == {upload_key: 2, image_url: 1}

    cc.configure(sync_error_after_processing_ratio=0.5)
    answers = [sync(image=image).status_code for _ in range(8)]
    assert set(answers) == {200, 500}
    assert cc.ledger()["charges"][upload_key] == 10  # every attempt processed and billed, whatever the answer


def test_strict_accept_refuses_files_the_accept_header_does_not_admit(cc, api, photo):
    cc.configure(fast=True, processing_seconds=0)
    url = "http://127.0.0.1:9/accept/1_front.jpg"
    submit(api, cc, [url]).raise_for_status()
    wait_until_settled(api, cc, [url])
    assert result(api, cc, url, Accept="application/json").status_code == 200  # the default ignores Accept

    cc.configure(strict_accept=True)
    message = error_of(result(api, cc, url, Accept="application/json"), 406)
    assert "image/jpeg" in message
    error_of(result(api, cc, url, Accept="image/png"), 406)
    error_of(result(api, cc, url, Accept="image/jpeg;q=0, */*"), 406)
    for accept in ("*/*", "image/*", "image/jpeg", "application/json, image/*;q=0.8", ""):
        assert result(api, cc, url, Accept=accept).status_code == 200, accept
    no_header = requests.Request("GET", f"{cc.url}{paths.ASYNC_RESULT}", params={"image_url": url},
                                 headers={"Authorization": api.headers["Authorization"]}).prepare()  # fmt: skip
    assert "Accept" not in no_header.headers and requests.Session().send(no_header, timeout=10).status_code == 200
    assert statuses(api, cc, [url])[0]["status"] == "final"  # JSON calls are never refused

    def sync(cut_type: str, accept: str) -> requests.Response:
        form = {"cut_type": (None, cut_type), "image": ("car.jpg", photo())}
        return api.post(f"{cc.url}{paths.SYNC_SINGLE_SEGMENT}", files=form, headers={"Accept": accept}, timeout=60)

    assert guesses.CC_SYNC_CONTENT_TYPE in error_of(sync("complete", "application/json"), 406)
    assert cc.ledger()["charges"] == {url: 1}  # refused before processing: nothing billed
    assert sync("complete", "text/plain").status_code == 200
    assert sync("none", "application/json").json() == {}


def test_result_downloads_are_counted_per_url_without_its_query(cc, api):
    cc.configure(fast=True, processing_seconds=0)
    twice_signed = ["http://127.0.0.1:9/dl/a.jpg?signature=1", "http://127.0.0.1:9/dl/a.jpg?signature=2"]
    once, never = "http://127.0.0.1:9/dl/b.jpg?signature=1", "http://127.0.0.1:9/dl/c.jpg"
    many = [f"http://127.0.0.1:9/dl/many/{n}.jpg" for n in range(55)]
    urls = [*twice_signed, once, never, *many]
    submit(api, cc, urls).raise_for_status()
    wait_until_settled(api, cc, urls)

    for url in (twice_signed[0], twice_signed[0], twice_signed[1], once, *many, *many):
        assert result(api, cc, url).status_code == 200
    assert result(api, cc, "http://127.0.0.1:9/dl/unknown.jpg").status_code == 404  # not a download
    cc.configure(strict_accept=True)
    assert result(api, cc, once, Accept="application/json").status_code == 406  # not a download either

    downloads = cc.requests()["result_downloads"]
    assert (downloads["total"], downloads["distinct_urls"]) == (4 + 110, 2 + 55)
    repeated = downloads["repeated"]
    assert len(repeated) == 50
    assert next(iter(repeated.items())) == ("http://127.0.0.1:9/dl/a.jpg", 3)  # most repeated first
    assert set(repeated.values()) == {3, 2} and "http://127.0.0.1:9/dl/b.jpg" not in repeated
    cc.reset()
    assert cc.requests()["result_downloads"] == {"total": 0, "distinct_urls": 0, "repeated": {}}
