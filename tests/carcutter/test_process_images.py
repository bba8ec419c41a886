"""The process-images operator end to end: stand-in, moto's S3 server, image records, the trigger."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from carcutter.operators.process_images import CarCutterProcessImagesOperator
from image_records import ImageRecordStore
from tests.carcutter.conftest import CONN_ID, counts

ASYNC_CALLS = ("asyncSubmit", "asyncStatus", "asyncResult")


def operator(images: list[dict], bucket: str, **kwargs) -> CarCutterProcessImagesOperator:
    options = {
        "task_id": "process", "images": images, "dest_bucket": bucket, "cut_type": "complete",
        "carcutter_conn_id": CONN_ID, "poll_interval": 0.1, "max_poll_interval": 0.3, "first_poll_delay": 0.3,
        "timeout": 30, "download_concurrency": 4, "deferrable": False, **kwargs,
    }  # fmt: skip
    return CarCutterProcessImagesOperator(**options)


def async_calls(server) -> dict[str, int]:
    current = counts(server)
    return {name: current.get(name, 0) for name in ASYNC_CALLS}


def records(bucket: str) -> list:
    return list(ImageRecordStore(bucket=bucket).iter_records("carcutter"))


def run_deferred(deferred: TaskDeferred) -> dict:
    async def first() -> dict:
        async for event in deferred.trigger.run():
            return event.payload
        raise AssertionError("no event")

    return asyncio.run(first())


def test_processes_a_batch_and_a_rerun_bills_nothing(carcutter, bucket, s3_client, put_photos):
    images = put_photos(vehicles=2, per_vehicle=3)
    summary = operator(images, bucket).execute({})

    assert [row["status"] for row in summary] == ["final"] * 6
    assert [row["source"] for row in summary] == [image["source"] for image in images]
    assert async_calls(carcutter)["asyncSubmit"] == 2  # one request per vehicle
    assert async_calls(carcutter)["asyncResult"] == 6
    assert sorted(carcutter.ledger()["charges"].values()) == [1] * 6
    for row, image in zip(summary, images, strict=True):
        assert row["attempts"] == row["credits_charged"] == row["credits_this_run"] == 1
        assert not row["reused"]
        key = row["outputs"]["result"].removeprefix(f"s3://{bucket}/")
        assert key.startswith(f"processed/{image['vehicle_id']}/")
        assert s3_client.head_object(Bucket=bucket, Key=key)["ContentType"] == "image/jpeg"
    assert "X-Amz" not in json.dumps(summary) and "Signature" not in json.dumps(summary)
    assert {record.status for record in records(bucket)} == {"final"}

    before = async_calls(carcutter)
    rerun = operator(images, bucket).execute({})
    assert async_calls(carcutter) == before  # not one call to Car-Cutter
    assert all(row["reused"] and row["credits_this_run"] == 0 for row in rerun)
    assert [row["outputs"] for row in rerun] == [row["outputs"] for row in summary]
    assert sorted(carcutter.ledger()["charges"].values()) == [1] * 6


def test_a_submitted_batch_is_resumed_by_status_never_resubmitted(carcutter, bucket, put_photos):
    images = put_photos(vehicles=1, per_vehicle=4)
    with pytest.raises(TaskDeferred):
        operator(images, bucket, deferrable=True).execute({})  # the worker "dies" while deferred
    assert {record.status for record in records(bucket)} == {"submitted"}
    assert async_calls(carcutter)["asyncSubmit"] == 1

    summary = operator(images, bucket).execute({})  # a retry, a clear, or tomorrow's run
    assert [row["status"] for row in summary] == ["final"] * 4
    assert async_calls(carcutter)["asyncSubmit"] == 1
    assert sorted(carcutter.ledger()["charges"].values()) == [1] * 4


def test_deferral_round_trip_through_json(carcutter, bucket, put_photos):
    images = put_photos(vehicles=2, per_vehicle=2)
    task = operator(images, bucket, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        task.execute({})
    assert not deferred.value.kwargs  # the batch waits in S3, not in the metadata database
    event = json.loads(json.dumps(run_deferred(deferred.value)))
    summary = operator(images, bucket, deferrable=True).execute_complete({}, event=event)
    assert [row["status"] for row in summary] == ["final"] * 4


def test_an_expired_result_is_submitted_once_more_and_billed_twice(carcutter, bucket, put_photos):
    images = put_photos(vehicles=1, per_vehicle=2)
    carcutter.configure(result_expiry_seconds=0.2)
    with pytest.raises(TaskDeferred) as first_wait:
        operator(images, bucket, deferrable=True).execute({})
    event = run_deferred(first_wait.value)
    time.sleep(0.5)  # the results expire before the task resumes
    with pytest.raises(TaskDeferred) as second_wait:
        operator(images, bucket, deferrable=True).execute_complete({}, event=event)
    carcutter.configure(result_expiry_seconds=3600)
    summary = operator(images, bucket, deferrable=True).execute_complete({}, event=run_deferred(second_wait.value))
    assert [(row["status"], row["attempts"], row["credits_charged"]) for row in summary] == [("final", 2, 2)] * 2
    assert async_calls(carcutter)["asyncSubmit"] == 2
    # two images, each sent (and billed) twice; a re-signed URL may or may not differ within the same second
    assert sum(carcutter.ledger()["charges"].values()) == 4
    assert {(r.attempts, r.credits_charged) for r in records(bucket)} == {(2, 2)}


def test_duplicates_http_sources_and_packed_requests(carcutter, bucket, local_stack, s3_client, put_photos):
    images = put_photos(vehicles=2, per_vehicle=2)
    key = images[0]["source"].removeprefix(f"s3://{bucket}/")
    s3_client.put_object_acl(Bucket=bucket, Key=key, ACL="public-read")  # a plain public http URL
    http_source = f"{local_stack.s3_url}/{bucket}/{key}"
    batch = [*images, images[1], {"source": http_source, "vehicle_id": "HTTPVEHICLE000001", "name": "front"}]
    summary = operator(batch, bucket, group_by_vehicle=False).execute({})
    assert [row["status"] for row in summary] == ["final"] * 6
    assert summary[4]["outputs"] == summary[1]["outputs"]  # the same picture listed twice: processed once
    assert async_calls(carcutter)["asyncSubmit"] == 1  # 5 distinct images, packed into one request
    charges = carcutter.ledger()["charges"]
    assert len(charges) == 5
    assert charges[http_source] == 1  # http(s) sources are sent as they are
    assert "/front-" in summary[5]["outputs"]["result"]


def test_an_unreadable_source_fails_alone(carcutter, bucket, put_photos):
    images = [
        *put_photos(per_vehicle=1),
        {"source": "http://127.0.0.1:9/gone.jpg?token=secret", "vehicle_id": "V2"},
        {"source": f"s3://{bucket}/photos/missing.jpg", "vehicle_id": "V3"},
    ]
    summary = operator(images, bucket).execute({})
    assert [row["status"] for row in summary] == ["final", "error", "error"]
    assert "cannot read the source" in summary[1]["error"]
    assert "secret" not in json.dumps(summary)
    assert async_calls(carcutter)["asyncSubmit"] == 1
    assert len(records(bucket)) == 1


def test_bad_images_argument_fails_for_good(bucket):
    with pytest.raises(AirflowFailException, match="image 0: source"):
        operator([{"source": "ftp://x/y.jpg", "vehicle_id": "V"}], bucket).execute({})
    with pytest.raises(AirflowFailException, match="vehicle_id"):
        operator([{"source": "s3://b/k.jpg"}], bucket).execute({})


def test_a_billed_failure_is_recorded_and_not_sent_again(carcutter, bucket, s3_client, put_photos):
    broken_key = "photos/BROKEN00000000000/0_front.jpg"
    s3_client.put_object(Bucket=bucket, Key=broken_key, Body=b"this is not a photo")
    images = [*put_photos(per_vehicle=1), {"source": f"s3://{bucket}/{broken_key}", "vehicle_id": "BROKEN00000000000"}]
    summary = operator(images, bucket).execute({})
    assert [row["status"] for row in summary] == ["final", "error"]
    assert "'error'" in summary[1]["error"]
    assert sorted(record.status for record in records(bucket)) == ["error", "final"]

    before = async_calls(carcutter)
    rerun = operator(images, bucket).execute({})
    assert async_calls(carcutter) == before  # Car-Cutter bills at submission: a broken photo is not sent daily
    assert [(row["status"], row["reused"]) for row in rerun] == [("final", True), ("error", True)]
    assert len(carcutter.ledger()["charges"]) == 2
