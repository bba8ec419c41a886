"""Knobs that make the Clipping Magic stand-in late and lossy as a real service may be: uploads listed late,
answers lost after billing, uploads held past the client's timeout, an account of 100,000 older images."""

from __future__ import annotations

import time

import pytest
import requests

from dev.standins import guesses
from tests.standins.clippingmagic.calls import upload


def listed(api, cm, **params) -> list[dict]:
    return api.get(f"{cm.url}/api/v1/images", params=params, timeout=10).json()["images"]


def test_an_upload_is_listed_only_after_the_list_delay_but_known_by_id_at_once(cm, api, photo):
    cm.configure(fast=True, list_delay=0.6)
    image_id = upload(api, cm, photo(), filename="late.jpg", format="result").headers["x-amz-meta-id"]

    assert listed(api, cm) == []
    assert api.get(f"{cm.url}/api/v1/images/{image_id}", params={"format": "json"}, timeout=10).status_code == 200
    time.sleep(0.7)
    assert [image["originalFilename"] for image in listed(api, cm)] == ["late.jpg"]


def test_a_lost_upload_answer_was_processed_and_billed(cm, api, photo):
    cm.configure(fast=True, lost_upload_answers=1)

    with pytest.raises(requests.ConnectionError):
        upload(api, cm, photo(), filename="lost.jpg", format="result")

    (image,) = listed(api, cm)
    assert image["originalFilename"] == "lost.jpg" and image["resultRevision"] == 1
    assert cm.ledger()["charges"] == {str(image["id"]): 1}
    assert upload(api, cm, photo(), filename="next.jpg").status_code == 200, "only the next N answers are lost"


def test_a_held_upload_is_billed_after_the_client_gave_up(cm, api, photo):
    cm.configure(fast=True, upload_hold_seconds=1.0)

    with pytest.raises(requests.Timeout):
        api.post(f"{cm.url}/api/v1/images", files={"image": ("held.jpg", photo())}, data={"format": "result"},
                 timeout=(5, 0.3))  # fmt: skip
    assert cm.ledger()["charges"] == {}

    time.sleep(1.2)
    (image,) = listed(api, cm)
    assert image["originalFilename"] == "held.jpg" and cm.ledger()["charges"] == {str(image["id"]): 1}


def test_preloaded_images_come_before_later_uploads_in_either_order(cm, api, photo):
    cm.configure(fast=True, preloaded_images=100_000)
    image_id = int(upload(api, cm, photo(), filename="new.jpg").json()["image"]["id"])

    last = listed(api, cm, offset=99_999, limit=100)
    assert [image["id"] for image in last] == [image_id - 1, image_id]
    assert last[0]["originalFilename"] == guesses.CM_PRELOADED_NAME.format(id=image_id - 1)
    assert listed(api, cm, offset=100_001) == []

    cm.configure(list_order="descending")
    assert [image["id"] for image in listed(api, cm, limit=2)] == [image_id, image_id - 1]


@pytest.mark.parametrize("body", ["html", "empty"])
def test_storage_may_answer_200_with_something_else_than_the_result(cm, api, photo, body):
    cm.configure(fast=True)
    image_id = upload(api, cm, photo(), format="result").headers["x-amz-meta-id"]
    cm.configure(storage_bad_body=body)

    answer = api.get(f"{cm.url}/api/v1/images/{image_id}", timeout=10)

    assert answer.status_code == 200
    assert answer.content == (guesses.CM_STORAGE_HTML_PAGE if body == "html" else b"")
