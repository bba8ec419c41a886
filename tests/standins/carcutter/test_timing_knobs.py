"""Knobs that make the Car-Cutter stand-in lag and lose answers as a real service may (guesses.py, "A service
that lags"): late registration, answers lost after billing, held submissions, a 402 that billed part."""

from __future__ import annotations

import time

import pytest
import requests

from tests.standins.carcutter.calls import error_of, statuses, submit

URLS = ["http://127.0.0.1:9/lag/1.jpg", "http://127.0.0.1:9/lag/2.jpg", "http://127.0.0.1:9/lag/3.jpg"]


def test_a_submission_stays_unknown_to_status_for_the_registration_delay(cc, api):
    cc.configure(fast=True, processing_seconds=0, registration_delay_seconds=1.0)
    submit(api, cc, URLS[:1]).raise_for_status()
    assert statuses(api, cc, URLS[:1])[0]["status"] == "unknown"
    time.sleep(1.2)
    assert statuses(api, cc, URLS[:1])[0]["status"] != "unknown"
    assert cc.ledger()["charges"] == {URLS[0]: 1}


@pytest.mark.parametrize("lost_as", ["dropped", "502"])
def test_a_lost_answer_was_processed_and_billed(cc, api, lost_as):
    cc.configure(fast=True, processing_seconds=0, lost_answers=1, lost_answer_as=lost_as)
    if lost_as == "dropped":
        with pytest.raises(requests.ConnectionError):
            submit(api, cc, URLS[:1])
    else:
        error_of(submit(api, cc, URLS[:1]), 502)
    assert cc.ledger()["charges"] == {URLS[0]: 1}
    submit(api, cc, URLS[1:2]).raise_for_status()  # only the next N answers are lost
    assert cc.ledger()["charges"] == {URLS[0]: 1, URLS[1]: 1}


def test_a_held_submission_is_billed_after_the_client_gave_up(cc, api):
    cc.configure(fast=True, processing_seconds=0, hold_submission_seconds=1.0)
    form = [("image_url", (None, URLS[0]))]
    with pytest.raises(requests.Timeout):
        api.post(f"{cc.url}/vehicle/image/submission", files=form, timeout=0.3)
    assert cc.ledger()["charges"] == {}
    time.sleep(1.0)
    assert cc.ledger()["charges"] == {URLS[0]: 1}


def test_short_credits_refuse_all_or_bill_what_fits(cc, api):
    cc.configure(fast=True, processing_seconds=0, credits=2)
    error_of(submit(api, cc, URLS), 402)
    assert cc.ledger()["charges"] == {}
    cc.configure(short_credits="bill-what-fits")
    error_of(submit(api, cc, URLS), 402)
    assert cc.ledger()["charges"] == {URLS[0]: 1, URLS[1]: 1}
    assert [entry["status"] != "unknown" for entry in statuses(api, cc, URLS)] == [True, True, False]
