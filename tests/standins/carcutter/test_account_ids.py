"""Guideline, location and scene ids are checked when the account lists them; a known scene is painted."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.standins.carcutter.calls import error_of, submit, wait_until_settled


@pytest.fixture
def url(presign, photo):
    return presign("photos/account-ids.jpg", photo((320, 240)), "image/jpeg")


@pytest.mark.parametrize("field", ["guideline_id", "location_id", "scene_id"])
def test_an_id_the_account_does_not_list_is_refused_and_not_billed(cc, api, url, field):
    cc.configure(**{f"account_{field}s": "known-1,known-2"})
    assert error_of(submit(api, cc, [url], **{field: "typo-1"}), 400) == f"Unknown {field} 'typo-1'."
    assert cc.ledger()["charges"] == {}
    assert submit(api, cc, [url], **{field: "known-2"}).status_code == 200


def test_an_account_that_lists_none_takes_any_id(cc, api, url):
    cc.configure(account_guideline_ids="", account_location_ids="", account_scene_ids="")
    assert submit(api, cc, [url], guideline_id="g", location_id="l", scene_id="anything").status_code == 200


def test_the_scene_paints_the_backdrop_and_the_submission_is_counted(cc, api, url):
    assert error_of(submit(api, cc, [url], scene_id="studio-whte"), 400) == "Unknown scene_id 'studio-whte'."
    assert submit(api, cc, [url], scene_id="night-blue", retouching_accuracy="precise").status_code == 200
    assert wait_until_settled(api, cc, [url])[url]["status"] == "final"
    result = api.get(f"{cc.url}/vehicle/image/result", params={"image_url": url}, timeout=10)
    assert max(Image.open(io.BytesIO(result.content)).convert("RGB").getpixel((2, 2))) < 100
    (submission,) = cc.requests()["submissions"]
    assert submission == {
        "images": 1,
        "cut_type": "complete",
        "scene_id": "night-blue",
        "retouching_accuracy": "precise",
    }
