"""Issue 18, Car-Cutter side: never bill twice against a service that registers submissions late, loses answers
after billing and bills part of a chunk before a 402. The stand-in lags by default here (`lagging`), every
test is judged by its ledger, and the records' `credits_charged` add up to the ledger's charges."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from tests.carcutter.conftest import CONN_ID, connection_json
from tests.carcutter.test_process_images import (
    claim_left_by_a_crash,
    operator,
    run_deferred,
    stored_records,
    task_context,
)
from vehicle_photos.carcutter.hooks.carcutter import CarCutterHook
from vehicle_photos.image_common.record_store import ImageRecordStore

OWN_EARLIER_TRY = "dag/run-1/process/-1"
REGISTRATION_DELAY = 2.5  # seconds Car-Cutter takes to file a submission: "unknown" to status until then
GRACE = 6.0  # the grace period the operator gets here: longer than the delay, as the 120 s default is


@pytest.fixture
def lagging(carcutter):
    """The least friendly plausible timing: submissions are filed late."""
    carcutter.configure(registration_delay_seconds=REGISTRATION_DELAY)
    return carcutter


def charged(server) -> int:
    return sum(server.ledger()["charges"].values())


def recorded(s3_client, bucket: str) -> int:
    return sum(record.credits_charged for record in stored_records(s3_client, bucket))


@pytest.mark.parametrize(("retries", "lost"), [(0, 1), (3, 4)])
def test_a_post_that_failed_is_settled_by_status_not_claimed_again(
    lagging, bucket, s3_client, put_photos, monkeypatch, retries, lost
):
    """Point 3 (and 1 at the operator's level): the answers are lost after billing, Car-Cutter files the URL
    late. The try that posted keeps asking about its claim's URL for the grace period instead of claiming the
    image again with a new URL (with four lost answers and a few seconds of lag, old code paid 5 times)."""
    monkeypatch.setenv("AIRFLOW_CONN_CARCUTTER_LOSSY", connection_json(lagging.url, lagging.token, max_retries=retries))
    lagging.configure(lost_answers=lost)
    [image] = put_photos(per_vehicle=1)
    results = operator([image], bucket, carcutter_conn_id="carcutter_lossy", registration_grace_seconds=GRACE).execute(
        task_context()
    )
    assert charged(lagging) == 1
    assert [(row["status"], row["credits_charged"]) for row in results] == [("final", 1)]
    assert recorded(s3_client, bucket) == charged(lagging)


def test_a_retry_waits_the_grace_before_taking_over_its_own_claim(lagging, bucket, s3_client, put_photos):
    """Point 2: the first try wrote its claim, posted, and its worker died; Car-Cutter files the URL a few
    seconds later. The retry must not take its own claim over when status first says `unknown`: the grace is
    counted from the claim's last write (S3's clock)."""
    [image] = put_photos(per_vehicle=1)
    url = claim_left_by_a_crash(s3_client, bucket, image, owner=OWN_EARLIER_TRY, claimed_at=time.time())
    CarCutterHook(CONN_ID).submit_images([url], cut_type="complete")  # the dead try's POST
    results = operator([image], bucket, registration_grace_seconds=GRACE).execute(task_context(try_number=2))
    assert lagging.ledger()["charges"] == {url: 1}
    assert [(row["status"], row["credits_charged"], row["credits_this_run"]) for row in results] == [("final", 1, 1)]
    assert recorded(s3_client, bucket) == charged(lagging)


def test_a_402_in_the_middle_of_a_chunk_keeps_what_it_billed(lagging, bucket, s3_client, put_photos):
    """Point 13: the credits cover three of a chunk's five URLs; Car-Cutter bills those three, then answers
    402. Their claims are kept and their results stored; only the two status still does not know after the
    grace are given back, and a rerun with credits pays for those two alone."""
    lagging.configure(credits=3, short_credits="bill-what-fits")
    images = put_photos(per_vehicle=5)
    with pytest.raises(AirflowFailException, match="credits"):
        operator(images, bucket, registration_grace_seconds=GRACE).execute(task_context())
    records = stored_records(s3_client, bucket)
    assert charged(lagging) == 3
    assert sorted((record.status, record.credits_charged) for record in records) == [("final", 1)] * 3
    assert recorded(s3_client, bucket) == charged(lagging)

    lagging.configure(credits=10)
    rerun = operator(images, bucket, registration_grace_seconds=GRACE).execute(task_context("run-2"))
    assert {row["status"] for row in rerun} == {"final"}
    assert sorted(lagging.ledger()["charges"].values()) == [1] * 5
    assert recorded(s3_client, bucket) == charged(lagging) == 5


def test_the_wait_fits_the_tasks_execution_timeout(lagging, bucket, s3_client, put_photos):
    """Point 11: the operator's own timeout (3 h by default) never outlasts the task's execution_timeout,
    which would kill the deferred task with its results lost: the trigger hands back in time to store them."""
    [image] = put_photos(per_vehicle=1)
    task = operator(
        [image], bucket, deferrable=True, timeout=3 * 3600, execution_timeout=timedelta(minutes=10),
        registration_grace_seconds=GRACE,
    )  # fmt: skip
    started = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(task_context())
    assert deferred.value.trigger.deadline <= started + 600
    results = task.execute_complete(task_context(), event=run_deferred(deferred.value))
    assert [row["status"] for row in results] == ["final"]
    assert recorded(s3_client, bucket) == charged(lagging) == 1


def test_a_claim_that_used_up_its_attempts_ends_failed_with_a_reason(lagging, bucket, s3_client, put_photos):
    """Point 11: a claim Car-Cutter never registered after every attempt is not left claimed (and pending) for
    ever: its record ends failed with the reason, and a rerun reuses that outcome without paying."""
    [image] = put_photos(per_vehicle=1)
    claim_left_by_a_crash(s3_client, bucket, image, owner=OWN_EARLIER_TRY, claimed_at=time.time() - 60)
    store = ImageRecordStore(bucket)
    [record] = stored_records(s3_client, bucket)
    store.replace(store.get("carcutter", record.digest), record.touched(attempts=4))
    results = operator([image], bucket, registration_grace_seconds=1.0, max_failure_ratio=1.0).execute(
        task_context(try_number=2)
    )
    assert [row["status"] for row in results] == ["failed"]
    assert "never registered" in results[0]["error"]
    [record] = stored_records(s3_client, bucket)
    assert (record.status, "never registered" in (record.last_error or "")) == ("failed", True)
    rerun = operator([image], bucket, max_failure_ratio=1.0).execute(task_context("run-2"))
    assert [(row["status"], row["reused"]) for row in rerun] == [("failed", True)]
    assert charged(lagging) == recorded(s3_client, bucket) == 0


def test_a_status_that_never_turns_terminal_ends_failed_after_a_bound(lagging, bucket, s3_client, put_photos):
    """Point 11: an image Car-Cutter keeps reporting as processing ends failed, with the reason, once
    `max_processing_seconds` have passed since its submission; its charge is recorded."""
    lagging.configure(processing_seconds=120)
    [image] = put_photos(per_vehicle=1)
    results = operator(
        [image], bucket, registration_grace_seconds=GRACE, max_processing_seconds=REGISTRATION_DELAY + 1,
        max_failure_ratio=1.0,
    ).execute(task_context())  # fmt: skip
    assert [row["status"] for row in results] == ["failed"]
    assert "after its submission" in results[0]["error"]
    [record] = stored_records(s3_client, bucket)
    assert record.status == "failed"
    assert recorded(s3_client, bucket) == charged(lagging) == 1
