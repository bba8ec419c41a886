"""The Clipping Magic client takes the other plausible answers too: error bodies that are not JSON (in the sync
hook and in the trigger's async one), and result storage that refuses credentials and whose links expire
(knobs: dev/standins/clippingmagic/contract.py)."""

from __future__ import annotations

import io
import time

import pytest

from tests.clippingmagic.conftest import jpeg_bytes, use_connection
from tests.clippingmagic.test_trigger import first_event
from vehicle_photos.clippingmagic.exceptions import AuthError, NotFoundError, ServerError, StorageError
from vehicle_photos.clippingmagic.hooks.clippingmagic import ClippingMagicHook
from vehicle_photos.clippingmagic.triggers.result import ClippingMagicResultTrigger


@pytest.mark.parametrize("style", ["html", "text", "empty"])
def test_non_json_error_bodies_are_typed_errors_with_short_messages(hook_factory, cm, monkeypatch, style):
    cm.configure(error_body=style)
    hook = hook_factory(max_attempts=2)
    with pytest.raises(NotFoundError) as missing:
        hook.get_image(999_999_999)
    wrong = ClippingMagicHook(use_connection(monkeypatch, "cm_wrong", host=cm.url, login=cm.api_id, password="k-wrong"))
    with pytest.raises(AuthError) as refused:
        wrong.get_account()
    cm.configure(error_5xx_ratio=1.0)
    with pytest.raises(ServerError) as failed:
        hook.get_account()
    for error in (missing.value, refused.value, failed.value):
        assert error.api == "Clipping Magic" and error.code is None and len(str(error)) < 300
        assert cm.api_key not in str(error) and "k-wrong" not in str(error)
    assert (missing.value.status, refused.value.status, failed.value.status) == (404, 401, 500)


@pytest.mark.parametrize("style", ["html", "text", "empty"])
def test_non_json_error_bodies_never_crash_the_trigger(cm, style):
    image = ClippingMagicHook().upload(jpeg_bytes(), filename="waiting.jpg", test=True)
    cm.configure(error_body=style)
    ended = first_event(ClippingMagicResultTrigger([image.id, 999_999_999], time.time() + 30, poll_interval=0.05))
    assert ended["status"] == "error" and "999999999" in ended["message"] and "404" in ended["message"]

    cm.configure(error_5xx_ratio=1.0)
    waited = first_event(ClippingMagicResultTrigger([image.id], time.time() + 0.5, poll_interval=0.05))
    assert waited["status"] == "timeout" and waited["pending"] == [image.id]


def test_downloads_send_no_credentials_to_the_result_storage(hook_factory, cm):
    """The stand-in's storage refuses a request carrying an Authorization header, as S3 refuses a presigned URL
    with a second authentication; it shares the API's host, so only a client that drops the credentials itself
    gets the file."""
    hook = hook_factory()
    image = hook.upload(jpeg_bytes(), filename="car.jpg")
    cm._emulator("POST", f"images/{image.id}/edit")
    result = hook.download(image.id, io.BytesIO())
    assert result.result_revision == 1 and result.size > 0
    assert cm.requests()["status_codes"].get("400") is None and cm.requests()["counts"]["storage"] == 1
    assert cm.ledger()["charges"] == {str(image.id): 1}


def test_an_expired_storage_link_is_asked_for_again_through_the_api_and_billed_once(hook_factory, cm):
    hook = hook_factory(max_attempts=3)
    image = hook.upload(jpeg_bytes(), filename="car.jpg")
    cm._emulator("POST", f"images/{image.id}/edit")
    cm.configure(storage_link_seconds=0)  # every link has expired by the time it is fetched
    with pytest.raises(StorageError, match=r"the result storage answered 403 .*Request has expired"):
        hook.download(image.id, io.BytesIO())
    assert cm.requests()["counts"]["download"] == 3, "each try asked the API for a fresh link"
    assert cm.ledger()["charges"] == {str(image.id): 1}, "repeat downloads are free"

    cm.configure(storage_link_seconds=60)
    assert hook.download(image.id, io.BytesIO()).size > 0
    assert cm.ledger()["charges"] == {str(image.id): 1}
