"""The result trigger polls the stand-in with aiohttp, as the triggerer would run it."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from airflow.sdk.module_loading import import_string

from tests.clippingmagic.conftest import jpeg_bytes
from vehicle_photos.clippingmagic.hooks.clippingmagic import ClippingMagicHook
from vehicle_photos.clippingmagic.sensors.result import ClippingMagicResultSensor
from vehicle_photos.clippingmagic.triggers.result import ClippingMagicResultTrigger


def first_event(trigger: ClippingMagicResultTrigger) -> dict:
    async def run() -> dict:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(asyncio.wait_for(run(), timeout=30))


def test_fires_once_every_image_has_a_new_revision(cm):
    hook = ClippingMagicHook()
    first, second = (hook.upload(jpeg_bytes(), filename=f"{n}.jpg", test=True) for n in range(2))
    for image in (first, second):
        cm._emulator("POST", f"images/{image.id}/edit")
    cm._emulator("POST", f"images/{second.id}/edit")

    trigger = ClippingMagicResultTrigger(
        [first.id, second.id], time.time() + 30, {str(second.id): 1}, poll_interval=0.05
    )
    event = first_event(trigger)

    assert event["status"] == "success" and event["pending"] == []
    assert [(image["id"], image["resultRevision"]) for image in event["images"]] == [(first.id, 1), (second.id, 2)]
    assert all("secret" not in image for image in event["images"])


def test_times_out_with_the_pending_images(cm):
    image = ClippingMagicHook().upload(jpeg_bytes(), filename="never-edited.jpg", test=True)

    event = first_event(ClippingMagicResultTrigger([image.id], time.time() + 0.3, poll_interval=0.05))

    assert event["status"] == "timeout" and event["pending"] == [image.id] and event["images"] == []
    assert cm.requests()["counts"]["download"] >= 2, "it kept polling until the deadline"


def test_reports_a_final_error(cm):
    event = first_event(ClippingMagicResultTrigger([999_999_999], time.time() + 30, poll_interval=0.05))
    assert event["status"] == "error" and "999999999" in event["message"] and "404" in event["message"]


def test_serializes_to_an_importable_class_and_its_arguments():
    trigger = ClippingMagicResultTrigger([1, 2], 123.0, {"2": 3}, "my_conn", poll_interval=7)
    classpath, kwargs = trigger.serialize()
    rebuilt = import_string(classpath)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs == {
        "image_ids": [1, 2],
        "deadline": 123.0,
        "after_revisions": {"2": 3},
        "clippingmagic_conn_id": "my_conn",
        "poll_interval": 7,
    }


def test_a_rate_limited_round_backs_off_linearly_then_polls_again(cm, fast_conn):
    image = ClippingMagicHook().upload(jpeg_bytes(), filename="edited-later.jpg", test=True)
    cm._emulator("POST", f"images/{image.id}/edit")
    cm.configure(rate_limit_next=2)
    conn_id = fast_conn(rate_limit_wait=0.2)
    trigger = ClippingMagicResultTrigger([image.id], time.time() + 30, clippingmagic_conn_id=conn_id, poll_interval=0)

    started = time.monotonic()
    event = first_event(trigger)

    assert event["status"] == "success" and event["images"][0]["resultRevision"] == 1
    assert time.monotonic() - started >= 0.2 + 0.4, "waited 1 x then 2 x the rate-limit wait"
    assert cm.requests()["status_codes"]["429"] == 2


def test_a_poking_sensor_never_waits_longer_than_its_execution_timeout(cm):
    sensor = ClippingMagicResultSensor(
        task_id="wait", image_ids=[1], deferrable=False, timeout=3 * 86400, execution_timeout=timedelta(minutes=30)
    )

    with pytest.raises(ValueError, match="longer than the execution_timeout"):
        sensor.execute({})
    assert cm.requests()["counts"] == {}, "refused before any poke"
