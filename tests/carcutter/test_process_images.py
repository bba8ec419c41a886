"""The process-images operator against the stand-in and moto's S3 server: claims before billing, resuming,
taking over, concurrency, refusing unusable images, and the results it publishes."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import TaskDeferred

from tests.carcutter.conftest import CONN_ID, counts, presign
from tests.image_server import Answer
from vehicle_photos.carcutter.operators.process_images import CarCutterProcessImagesOperator
from vehicle_photos.image_common.identity import s3_identity
from vehicle_photos.image_common.record_index import RecordIndex
from vehicle_photos.image_common.record_store import ImageRecordStore
from vehicle_photos.image_common.records import ImageRecord, options_digest
from vehicle_photos.image_common.sealed import seal, unseal
from vehicle_photos.image_common.statuses import RecordStatus
from vehicle_photos.image_common.urls import redact_url

ASYNC_CALLS = ("asyncSubmit", "asyncStatus", "asyncResult")
OPTIONS = {"cut_type": "complete"}
GRACE = 1.5  # seconds a call that may have reached Car-Cutter is settled by asking (120 s by default)


def operator(images: list[dict], bucket: str, **kwargs) -> CarCutterProcessImagesOperator:
    options = {
        "task_id": "process", "images": images, "dest_bucket": bucket, "cut_type": "complete",
        "carcutter_conn_id": CONN_ID, "poll_interval": 0.1, "max_poll_interval": 0.3, "first_poll_delay": 0.3,
        "timeout": 30, "concurrency": 4, "deferrable": False, "registration_grace_seconds": GRACE, **kwargs,
    }  # fmt: skip
    return CarCutterProcessImagesOperator(**options)


def task_context(run_id: str = "run-1", try_number: int = 1, map_index: int = -1) -> dict:
    """The task instance part of a context: who holds the claims this task writes."""
    ti = SimpleNamespace(dag_id="dag", run_id=run_id, task_id="process", map_index=map_index, try_number=try_number)
    return {"ti": ti}


def async_calls(server) -> dict[str, int]:
    current = counts(server)
    return {name: current.get(name, 0) for name in ASYNC_CALLS}


def stored_records(s3_client, bucket: str) -> list[ImageRecord]:
    listed = s3_client.list_objects_v2(Bucket=bucket, Prefix="records/carcutter/").get("Contents", [])
    return [ImageRecord.from_json(s3_client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            for item in listed]  # fmt: skip


def run_deferred(deferred: TaskDeferred) -> dict:
    async def first() -> dict:
        async for event in deferred.trigger.run():
            return event.payload
        raise AssertionError("no event")

    return asyncio.run(first())


def claim_left_by_a_crash(s3_client, bucket: str, image: dict, owner: str, claimed_at: float, **fields: Any) -> str:
    """The record a worker leaves when it dies after writing its claim and before its POST went out."""
    key = image["source"].removeprefix(f"s3://{bucket}/")
    identity = s3_identity(bucket, key, s3_client.head_object(Bucket=bucket, Key=key)["ETag"])
    url = presign(s3_client, image["source"])
    record = ImageRecord(
        "carcutter", identity, OPTIONS, RecordStatus.CLAIMED, source=image["source"], owner=owner, owner_try=1,
        claimed_at=claimed_at, submitted_url=redact_url(url), sealed_submitted_url=seal(url), attempts=1, **fields,
    )  # fmt: skip
    assert ImageRecordStore(bucket).create(record) is not None
    assert options_digest(identity, OPTIONS) == record.digest
    return url


def test_processes_a_batch_and_a_rerun_bills_nothing(carcutter, bucket, s3_client, put_photos):
    images = put_photos(vehicles=2, per_vehicle=3)
    results = operator(images, bucket).execute(task_context())

    assert [row["status"] for row in results] == ["final"] * 6
    assert [row["source"] for row in results] == [image["source"] for image in images]
    assert async_calls(carcutter)["asyncSubmit"] == 2  # one request per vehicle
    assert async_calls(carcutter)["asyncResult"] == 6
    assert sorted(carcutter.ledger()["charges"].values()) == [1] * 6
    for row, image in zip(results, images, strict=True):
        assert row["attempts"] == row["credits_charged"] == row["credits_this_run"] == 1
        assert not row["reused"]
        key = row["outputs"]["result"].removeprefix(f"s3://{bucket}/")
        assert key.startswith(f"processed/{image['vehicle_id']}/carcutter/")
        assert s3_client.head_object(Bucket=bucket, Key=key)["ContentType"] == "image/jpeg"
    records = stored_records(s3_client, bucket)
    assert {record.status for record in records} == {"final"}
    written = json.dumps(results) + json.dumps([record.to_dict() for record in records])
    assert "Signature" not in written and "X-Amz" not in written  # presigned URLs only ever sealed
    assert {unseal(record.sealed_submitted_url) for record in records} == set(carcutter.ledger()["charges"])

    before = async_calls(carcutter)
    rerun = operator(images, bucket).execute(task_context("run-2"))
    assert async_calls(carcutter) == before  # not one call to Car-Cutter
    assert all(row["reused"] and row["credits_this_run"] == 0 for row in rerun)
    assert [row["outputs"] for row in rerun] == [row["outputs"] for row in results]
    assert sorted(carcutter.ledger()["charges"].values()) == [1] * 6


def test_registers_its_vehicles_before_it_submits_their_images(carcutter, bucket, s3_client, put_photos):
    """A submission naming a vehicle takes it off the shot list (`active`); registering it afterwards would put
    it back (`new`). A vehicle without images to process is registered too, and a retry changes nothing."""
    from vehicle_photos.carcutter.hooks.carcutter import CarCutterHook

    images = put_photos(vehicles=2, per_vehicle=2)
    with_images = sorted({image["vehicle_id"] for image in images})
    vehicles = [{"vehicle_id": vid, "vehicle_manufacturer": "VW", "vehicle_model": "Golf"} for vid in with_images]
    vehicles.append({"vehicle_id": "WVWZZZ1JZ3W999999", "vehicle_manufacturer": "Audi"})
    s3_client.put_object(Bucket=bucket, Key="in/vehicles.json", Body=json.dumps(vehicles).encode())

    results = operator(images, bucket, vehicles=f"s3://{bucket}/in/vehicles.json").execute(task_context())
    assert [row["status"] for row in results] == ["final"] * 4
    hook = CarCutterHook(CONN_ID)
    for vehicle in vehicles:
        found = hook.get_vehicle(vehicle["vehicle_id"])
        assert found["vehicle_manufacturer"] == vehicle["vehicle_manufacturer"]
        assert found["app_status"] == ("active" if vehicle["vehicle_id"] in with_images else "new")

    before = counts(carcutter)
    operator(images, bucket, vehicles=vehicles).execute(task_context(try_number=2))
    assert counts(carcutter).get("vehicleSubmit") == before["vehicleSubmit"] == 3
    assert async_calls(carcutter) == {name: before.get(name, 0) for name in ASYNC_CALLS}


def test_a_batch_without_images_registers_its_vehicles(carcutter, bucket):
    from vehicle_photos.carcutter.hooks.carcutter import CarCutterHook

    vehicles = [{"vehicle_id": "WVWZZZ1JZ3W000123", "vehicle_color": "red"}]
    assert operator(None, bucket, vehicles=vehicles).execute(task_context()) == []
    assert CarCutterHook(CONN_ID).get_vehicle("WVWZZZ1JZ3W000123")["vehicle_color"] == "red"
    assert async_calls(carcutter) == dict.fromkeys(ASYNC_CALLS, 0)


def test_a_record_found_final_in_place_is_indexed(carcutter, bucket, s3_client, put_photos):
    """A try that finished the images and died before indexing them: the retry, which reuses them, indexes
    them, so the next daily plan knows them without a record read each."""
    images = put_photos(vehicles=1, per_vehicle=3)
    operator(images, bucket).execute(task_context())
    index = RecordIndex(ImageRecordStore(bucket), "carcutter")
    indexed = set(index.load())
    assert len(indexed) == 3
    listed = s3_client.list_objects_v2(Bucket=bucket, Prefix="records/_index/").get("Contents", [])
    for item in listed:
        s3_client.delete_object(Bucket=bucket, Key=item["Key"])
    assert index.load() == {}

    rerun = operator(images, bucket).execute(task_context(try_number=2))
    assert all(row["reused"] for row in rerun)
    assert set(index.load()) == indexed


def test_results_go_to_s3_and_xcom_carries_counts(carcutter, bucket, s3_client, put_photos):
    images = put_photos(vehicles=1, per_vehicle=2)
    s3_client.put_object(Bucket=bucket, Key="in/batch.json", Body=json.dumps(images).encode())
    returned = operator(f"s3://{bucket}/in/batch.json", bucket, results_uri=f"s3://{bucket}/out/results.jsonl").execute(
        task_context()
    )
    assert returned["final"] == 2 and returned["credits_this_run"] == 2
    assert returned["results_uri"] == f"s3://{bucket}/out/results.jsonl"
    lines = s3_client.get_object(Bucket=bucket, Key="out/results.jsonl")["Body"].read().decode().splitlines()
    assert [json.loads(line)["status"] for line in lines] == ["final", "final"]


def test_a_deferred_batch_is_resumed_by_status_never_resubmitted(carcutter, bucket, s3_client, put_photos):
    images = put_photos(vehicles=1, per_vehicle=4)
    with pytest.raises(TaskDeferred) as deferred:
        operator(images, bucket, deferrable=True).execute(task_context())  # the worker dies while deferred
    assert not deferred.value.kwargs  # the batch waits in S3, not in the metadata database
    assert len(json.dumps(deferred.value.trigger.serialize())) < 1000  # and the trigger carries a reference
    assert {record.status for record in stored_records(s3_client, bucket)} == {"claimed"}
    assert async_calls(carcutter)["asyncSubmit"] == 1

    results = operator(images, bucket).execute(task_context(try_number=2))  # the retry of the same task
    assert [row["status"] for row in results] == ["final"] * 4
    # the first try paid: its charge is counted for the image and for this run, and recorded
    assert {(row["credits_charged"], row["credits_this_run"]) for row in results} == {(1, 1)}
    assert {record.credits_charged for record in stored_records(s3_client, bucket)} == {1}
    assert async_calls(carcutter)["asyncSubmit"] == 1
    assert sorted(carcutter.ledger()["charges"].values()) == [1] * 4


def test_deferral_round_trip_through_json(carcutter, bucket, put_photos):
    images = put_photos(vehicles=2, per_vehicle=2)
    with pytest.raises(TaskDeferred) as deferred:
        operator(images, bucket, deferrable=True).execute(task_context())
    event = json.loads(json.dumps(run_deferred(deferred.value)))
    results = operator(images, bucket, deferrable=True).execute_complete(task_context(), event=event)
    assert [row["status"] for row in results] == ["final"] * 4


def test_a_batch_finished_within_the_wait_in_task_never_defers(carcutter, bucket, put_photos):
    images = put_photos(vehicles=2, per_vehicle=2)
    results = operator(images, bucket, deferrable=True, wait_in_task_seconds=10).execute(task_context())
    assert [row["status"] for row in results] == ["final"] * 4
    assert async_calls(carcutter)["asyncSubmit"] == 2


def test_a_batch_still_processing_after_the_wait_in_task_defers(carcutter, bucket, put_photos):
    carcutter.configure(processing_seconds=3.0)
    images = put_photos(vehicles=1, per_vehicle=2)
    with pytest.raises(TaskDeferred) as deferred:
        operator(images, bucket, deferrable=True, wait_in_task_seconds=1.0).execute(task_context())
    assert async_calls(carcutter)["asyncStatus"] >= 1  # it polled in the task first
    assert deferred.value.trigger.first_poll_at - time.time() > 3  # a deferred batch's first poll settles
    results = operator(images, bucket, deferrable=True).execute_complete(
        task_context(), event=run_deferred(deferred.value)
    )
    assert [row["status"] for row in results] == ["final"] * 2
    assert async_calls(carcutter)["asyncSubmit"] == 1
    assert sorted(carcutter.ledger()["charges"].values()) == [1, 1]


def test_a_claim_left_before_its_post_is_taken_over_by_the_retry_at_once(carcutter, bucket, s3_client, put_photos):
    [image] = put_photos(per_vehicle=1)
    url = claim_left_by_a_crash(s3_client, bucket, image, owner="dag/run-1/process/-1", claimed_at=time.time())
    results = operator([image], bucket).execute(task_context(try_number=2))
    assert [row["status"] for row in results] == ["final"]
    charges = carcutter.ledger()["charges"]
    assert sum(charges.values()) == 1 and url not in charges  # sent once, with a new URL


def test_another_runs_fresh_claim_is_waited_for_not_submitted(carcutter, bucket, s3_client, put_photos):
    [image] = put_photos(per_vehicle=1)
    claim_left_by_a_crash(s3_client, bucket, image, owner="dag/other-run/process/3", claimed_at=time.time())
    results = operator([image], bucket, timeout=2, max_failure_ratio=1.0).execute(task_context())
    assert [row["status"] for row in results] == ["pending"]
    assert carcutter.ledger()["charges"] == {}
    assert async_calls(carcutter)["asyncSubmit"] == 0


def test_a_waiting_run_follows_a_claim_its_holder_took_over_with_a_new_url(carcutter, bucket, s3_client, put_photos):
    """Another run's worker died before its POST; we wait on its claim; its retry takes the claim over and
    submits a new presigned URL. We must follow the record to the new URL, not wait on the dead one."""
    [image] = put_photos(per_vehicle=1)
    holder = "dag/other-run/process/3"
    claim_left_by_a_crash(s3_client, bucket, image, owner=holder, claimed_at=time.time())

    def holders_retry() -> None:
        time.sleep(1.5)  # we are waiting on the dead URL by now
        operator([image], bucket).execute(task_context("other-run", try_number=2, map_index=3))

    retry = threading.Thread(target=holders_retry)
    retry.start()
    results = operator([image], bucket, timeout=60).execute(task_context())
    retry.join()
    assert [row["status"] for row in results] == ["final"]
    assert (results[0]["credits_charged"], results[0]["credits_this_run"]) == (1, 0)  # the holder paid
    assert sum(carcutter.ledger()["charges"].values()) == 1


def test_another_runs_stale_claim_is_taken_over(carcutter, bucket, s3_client, put_photos):
    [image] = put_photos(per_vehicle=1)
    # its holder's clock says an hour ago; S3's clock says now, and the holder promised to renew within 1 s
    claim_left_by_a_crash(s3_client, bucket, image, owner="dag/other-run/process/3", claimed_at=time.time() - 3600,
                          lease_seconds=1.0)  # fmt: skip
    time.sleep(2.1)  # one lease after its last write by S3's clock (one-second resolution): free
    results = operator([image], bucket, claim_lease_seconds=600).execute(task_context())
    assert [row["status"] for row in results] == ["final"]
    assert sum(carcutter.ledger()["charges"].values()) == 1


def test_a_claim_car_cutter_answers_404_for_is_taken_over(carcutter, bucket, s3_client, put_photos):
    carcutter.configure(unknown_url_status="404")  # the real status endpoint may say "no such image"
    [image] = put_photos(per_vehicle=1)
    claim_left_by_a_crash(s3_client, bucket, image, owner="dag/run-1/process/-1", claimed_at=time.time())
    results = operator([image], bucket).execute(task_context(try_number=2))
    assert [row["status"] for row in results] == ["final"]
    assert sum(carcutter.ledger()["charges"].values()) == 1


def test_two_runs_at_the_same_time_charge_each_image_once(carcutter, bucket, put_photos):
    images = put_photos(vehicles=3, per_vehicle=3)
    shared = {**images[0], "vehicle_id": "WVWZZZ1JZ3W999999", "name": "shared"}  # one photo, two vehicles
    outcomes: dict[str, list] = {}

    def run(run_id: str, batch: list[dict]) -> None:
        outcomes[run_id] = operator(batch, bucket).execute(task_context(run_id))

    threads = [threading.Thread(target=run, args=("daily", images)),
               threading.Thread(target=run, args=("backfill", [shared, *reversed(images)]))]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(carcutter.ledger()["charges"].values()) == len(images)
    assert {row["status"] for rows in outcomes.values() for row in rows} == {"final"}
    by_source = {row["source"]: row["outputs"] for rows in outcomes.values() for row in rows}
    assert len(by_source) == len(images)  # both runs point at the same outputs
    assert sum(row["credits_this_run"] for rows in outcomes.values() for row in rows) == len(images)


def test_an_expired_result_is_submitted_once_more_and_billed_twice(carcutter, bucket, s3_client, put_photos):
    images = put_photos(vehicles=1, per_vehicle=2)
    carcutter.configure(result_expiry_seconds=0.2)
    with pytest.raises(TaskDeferred) as first_wait:
        operator(images, bucket, deferrable=True).execute(task_context())
    event = run_deferred(first_wait.value)
    time.sleep(0.5)  # the results expire before the task resumes
    with pytest.raises(TaskDeferred) as second_wait:
        operator(images, bucket, deferrable=True).execute_complete(task_context(), event=event)
    carcutter.configure(result_expiry_seconds=3600)
    results = operator(images, bucket, deferrable=True).execute_complete(
        task_context(), event=run_deferred(second_wait.value)
    )
    assert [(row["status"], row["attempts"], row["credits_charged"]) for row in results] == [("final", 2, 2)] * 2
    assert async_calls(carcutter)["asyncSubmit"] == 2
    assert sum(carcutter.ledger()["charges"].values()) == 4
    assert {(r.attempts, r.credits_charged) for r in stored_records(s3_client, bucket)} == {(2, 2)}


def test_an_unknown_quality_value_does_not_hold_a_final_image(carcutter, bucket, put_photos):
    carcutter.configure(unknown_quality_ratio=1.0)  # e.g. "blurry": a value the document does not list
    images = put_photos(per_vehicle=2)
    results = operator(images, bucket).execute(task_context())
    assert [row["status"] for row in results] == ["final"] * 2
    assert sum(carcutter.ledger()["charges"].values()) == 2


def test_duplicates_http_sources_with_query_strings_and_packed_requests(
    carcutter, bucket, local_stack, s3_client, put_photos
):
    images = put_photos(vehicles=2, per_vehicle=2)
    key = images[0]["source"].removeprefix(f"s3://{bucket}/")
    s3_client.put_object_acl(Bucket=bucket, Key=key, ACL="public-read")
    http_source = f"{local_stack.s3_url}/{bucket}/{key}?dealer-token=s3cr3t"  # a dealer's signed URL
    batch = [*images, images[1], {"source": http_source, "vehicle_id": "HTTPVEHICLE000001", "name": "front"}]
    results = operator(batch, bucket, group_by_vehicle=False, allowed_networks=["127.0.0.1/32"]).execute(task_context())
    assert [row["status"] for row in results] == ["final"] * 6
    assert results[4]["outputs"] == results[1]["outputs"]  # the same picture listed twice: processed once
    assert async_calls(carcutter)["asyncSubmit"] == 1  # 5 distinct images, packed into one request
    charges = carcutter.ledger()["charges"]
    assert len(charges) == 5 and charges[http_source] == 1  # http(s) sources are sent as they are
    assert "/front-" in results[5]["outputs"]["result"]
    written = json.dumps(results) + json.dumps([r.to_dict() for r in stored_records(s3_client, bucket)])
    assert "s3cr3t" not in written


def test_bad_entries_are_refused_one_by_one(carcutter, bucket, put_photos):
    images = [*put_photos(per_vehicle=1), {"source": "ftp://x/y.jpg", "vehicle_id": "V"}, {"source": "s3://b/k.jpg"}]
    results = operator(images, bucket).execute(task_context())
    assert sorted(row["status"] for row in results) == ["final", "refused", "refused"]
    reasons = " ".join(row["error"] or "" for row in results)
    assert "scheme 'ftp'" in reasons and "vehicle_id is missing" in reasons


def test_a_billed_failure_is_recorded_and_not_sent_again(carcutter, bucket, s3_client, put_photos, image_server):
    # a photo that is fine when we inspect it and gone when Car-Cutter fetches it: billed, status "error"
    photo = s3_client.get_object(Bucket=bucket, Key=put_photos(per_vehicle=1)[0]["source"].split("/", 3)[3])
    good = Answer(body=photo["Body"].read(), headers=(("ETag", '"v1"'),))
    image_server.routes["/flaky.jpg"] = lambda number, agent: Answer(404) if "aiohttp" in agent else good
    images = [*put_photos(per_vehicle=1), {"source": image_server.url("/flaky.jpg"), "vehicle_id": "FLAKY000000000000"}]
    results = operator(images, bucket, max_failure_ratio=1.0, allowed_networks=["127.0.0.1/32"]).execute(task_context())
    assert [row["status"] for row in results] == ["final", "failed"]
    assert "'error'" in results[1]["error"]
    assert sorted(record.status for record in stored_records(s3_client, bucket)) == ["failed", "final"]

    before = async_calls(carcutter)
    rerun = operator(images, bucket, max_failure_ratio=1.0, allowed_networks=["127.0.0.1/32"]).execute(
        task_context("run-2")
    )
    assert async_calls(carcutter) == before  # Car-Cutter bills at submission: a broken photo is not sent daily
    assert [(row["status"], row["reused"]) for row in rerun] == [("final", True), ("failed", True)]
    assert len(carcutter.ledger()["charges"]) == 2
