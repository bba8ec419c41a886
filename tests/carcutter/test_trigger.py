"""The batch status trigger's life cycle, run with asyncio against the stand-in."""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
import time

import pytest

from tests.carcutter.conftest import CONN_ID, connection_json, counts, presign
from vehicle_photos.carcutter.hooks.carcutter import CarCutterHook
from vehicle_photos.carcutter.triggers.batch_status import CarCutterBatchStatusTrigger
from vehicle_photos.carcutter.utils.statuses import ImageStatus


def run_trigger(trigger: CarCutterBatchStatusTrigger) -> dict:
    async def first_event() -> dict:
        events = [event.payload async for event in trigger.run()]
        assert len(events) == 1
        return events[0]

    return asyncio.run(first_event())


def make_trigger(urls: list[str], timeout: float = 30, **kwargs) -> CarCutterBatchStatusTrigger:
    return CarCutterBatchStatusTrigger(
        image_urls=urls, deadline=time.time() + timeout, carcutter_conn_id=CONN_ID, poll_interval=0.1,
        max_poll_interval=0.3, **kwargs,
    )  # fmt: skip


@pytest.fixture
def submitted(carcutter, s3_client, put_photos) -> list[str]:
    urls = [presign(s3_client, image["source"]) for image in put_photos(vehicles=2, per_vehicle=3)]
    CarCutterHook(CONN_ID).submit_images(urls, cut_type="complete")
    return urls


def test_serializes_to_kwargs_that_rebuild_it(submitted):
    trigger = make_trigger(submitted, first_poll_at=123.0)
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert "X-Amz" not in repr(trigger) and "Signature" not in repr(trigger)


def test_fires_complete_when_every_image_is_final(submitted, carcutter):
    event = run_trigger(make_trigger(submitted))
    assert event["status"] == "complete"
    assert [image["status"] for image in event["images"]] == ["final"] * len(submitted)
    assert all(image["finished"] and image["angle"] for image in event["images"])
    assert "image" not in event["images"][0]  # URLs (with signatures) stay out of the event


def test_a_restarted_trigger_starts_over_from_its_kwargs(submitted):
    trigger = make_trigger(submitted)
    _, kwargs = trigger.serialize()
    first = run_trigger(trigger)
    again = run_trigger(CarCutterBatchStatusTrigger(**kwargs))
    assert again == first


def test_error_status_is_terminal(carcutter, submitted):
    unreachable = "http://127.0.0.1:9/missing.jpg"
    CarCutterHook(CONN_ID).submit_images([unreachable])
    event = run_trigger(make_trigger([*submitted, unreachable]))
    assert event["status"] == "complete"
    assert event["images"][-1]["status"] == "error"
    assert event["images"][-1]["finished"]


def test_timeout_marks_unfinished_images(carcutter, submitted):
    never_submitted = "http://127.0.0.1:9/never.jpg"
    event = run_trigger(make_trigger([*submitted, never_submitted], timeout=2))
    assert event["status"] == "timeout"
    assert event["images"][-1] == {"answered": True, "known": False, "finished": False}  # Car-Cutter said "unknown"
    assert all(image["finished"] for image in event["images"][:-1])


def test_only_an_unknown_status_means_not_finished_and_each_is_logged_once(caplog):
    caplog.set_level(logging.WARNING)
    novel = [ImageStatus(image=f"u{n}", status="final", phase="polishing") for n in range(3)]
    assert all(status.finished for status in novel)  # a new phase or quality does not hold a final image
    assert not ImageStatus(image="u", status="teleported").finished
    assert ImageStatus(image="u", status="final", phase="ready", quality="dazzling").finished
    assert ImageStatus(image="u", status="final", phase="ready", quality="retake").finished
    warnings = [r.getMessage() for r in caplog.records if "unknown image" in r.getMessage()]
    assert len([w for w in warnings if "polishing" in w]) == 1
    assert any("teleported" in w for w in warnings) and any("dazzling" in w for w in warnings)


def with_fault_for(carcutter, seconds: float, **knobs) -> threading.Thread:
    """Switch a fault on now and off again after `seconds`, while the trigger is waiting."""
    carcutter.configure(**knobs)

    def heal() -> None:
        time.sleep(seconds)
        carcutter.configure(**dict.fromkeys(knobs, 0.0))

    thread = threading.Thread(target=heal)
    thread.start()
    return thread


@pytest.mark.parametrize("fault", ["error_5xx_ratio", "drop_ratio"])
def test_survives_5xx_and_dropped_connections_mid_wait(carcutter, submitted, monkeypatch, fault):
    # A connection that gives up quickly, so the outage outlasts the hook's own retries.
    monkeypatch.setenv("AIRFLOW_CONN_CARCUTTER_TEST", connection_json(carcutter.url, carcutter.token, max_retries=1))
    healer = with_fault_for(carcutter, 1.0, **{fault: 1.0})
    event = run_trigger(make_trigger(submitted))
    healer.join()
    assert event["status"] == "complete"
    assert all(image["status"] == "final" for image in event["images"])


def test_auth_failure_ends_the_wait_with_an_error_event(carcutter, submitted, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CARCUTTER_TEST", connection_json(carcutter.url, "revoked-token"))
    event = run_trigger(make_trigger(submitted))
    assert event["status"] == "error"
    assert "unauthorized" in event["message"]


def test_polls_few_times_for_many_images(carcutter, s3_client, put_photos):
    """120 images, status requests of ~15 URLs: finished images are never asked about again, and while the
    earliest image is unfinished a round is one probe, not a sweep."""
    source = put_photos(per_vehicle=1)[0]["source"]
    urls = [presign(s3_client, source, expires=3600 + n) for n in range(120)]
    carcutter.configure(processing_seconds=1.0)
    CarCutterHook(CONN_ID).submit_images(urls)
    event = run_trigger(make_trigger(urls, max_url_length=15 * 220, first_poll_at=time.time()))
    assert event["status"] == "complete"
    status_calls = counts(carcutter)["asyncStatus"]
    sweep = -(-len(urls) // 15)
    # about one full sweep plus one probe per round while waiting; polling everything each round
    # (~10 rounds over the one second of processing) would be ten times that.
    assert status_calls <= 2 * sweep + 12, status_calls
