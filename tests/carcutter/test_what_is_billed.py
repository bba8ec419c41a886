"""What is billed is what is recorded (stand-in, moto's S3 server and a local image server): the bytes
Car-Cutter fetches are the bytes whose identity the record carries, pictures told apart only by their query
string are two images, a claim sealed with a retired key fails only itself, and a result that is not an image
is never stored as final."""

from __future__ import annotations

import json
import os
import time

import pytest
import requests
from airflow.sdk.crypto import get_fernet
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred
from cryptography.fernet import Fernet

from tests.carcutter.conftest import CONN_ID, presign
from tests.carcutter.test_process_images import operator, run_deferred, stored_records, task_context
from tests.image_server import Answer
from tests.photos import car_photo
from vehicle_photos.carcutter.operators.single_segment import CarCutterSingleSegmentOperator
from vehicle_photos.image_common.identity import s3_identity
from vehicle_photos.image_common.record_store import ImageRecordStore
from vehicle_photos.image_common.records import ImageRecord, options_digest, output_key
from vehicle_photos.image_common.sealed import seal, unseal
from vehicle_photos.image_common.statuses import RecordStatus
from vehicle_photos.image_common.urls import redact_url

LOOPBACK = ["127.0.0.1/32"]
SAME_DATE = (("Last-Modified", "Tue, 01 Dec 2026 08:00:00 GMT"),)


def output_bytes(s3_client, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()


def assert_records_match_the_ledger(carcutter, s3_client, bucket: str) -> None:
    charged = sum(record.credits_charged for record in stored_records(s3_client, bucket))
    assert charged == sum(carcutter.ledger()["charges"].values())


def test_query_strings_tell_pictures_apart_but_signatures_do_not(carcutter, bucket, s3_client, image_server):
    for number in (1, 2):
        image_server.routes[f"/img.aspx?id={number}"] = Answer(body=car_photo(number), headers=SAME_DATE)
    signed = "/img.aspx?X-Amz-Date=20261202T080000Z&id=1&X-Amz-Signature=0f0f&token=abc"  # the same picture re-signed
    image_server.routes[signed] = Answer(body=car_photo(1), headers=SAME_DATE)
    images = [
        {"source": image_server.url(f"/img.aspx?id={number}"), "vehicle_id": f"VEHICLE{number:010d}", "name": "front"}
        for number in (1, 2)
    ]
    results = operator(images, bucket, allowed_networks=LOOPBACK).execute(task_context())

    assert [row["status"] for row in results] == ["final", "final"]
    assert sum(carcutter.ledger()["charges"].values()) == 2  # old code: one identity, vehicle B showed A's photo
    for row, number in zip(results, (1, 2), strict=True):
        assert output_bytes(s3_client, row["outputs"]["result"]) == car_photo(number)  # fast mode: bytes unchanged
    records = stored_records(s3_client, bucket)
    assert len({record.identity for record in records}) == 2
    written = json.dumps(results) + json.dumps([record.to_dict() for record in records])
    assert "id=1" not in written and "id=2" not in written  # the query counts only as a digest

    again = [{**images[0], "source": image_server.url(signed)}]
    rerun = operator(again, bucket, allowed_networks=LOOPBACK).execute(task_context("run-2"))
    assert rerun[0]["reused"] and rerun[0]["outputs"] == results[0]["outputs"]
    assert sum(carcutter.ledger()["charges"].values()) == 2
    assert_records_match_the_ledger(carcutter, s3_client, bucket)


def test_a_result_that_is_not_an_image_is_not_stored_and_a_rerun_stores_it(carcutter, bucket, s3_client, put_photos):
    images = put_photos(per_vehicle=1)
    for body, reason in (("html", "text/html, not an image"), ("empty", "empty (0 bytes)")):
        carcutter.configure(result_body=body)  # a 200 from a proxy or CDN in front of the result download
        results = operator(images, bucket, max_failure_ratio=1.0).execute(task_context())
        assert results[0]["status"] == "pending" and reason in results[0]["error"]
        assert not s3_client.list_objects_v2(Bucket=bucket, Prefix="processed/").get("Contents")
        assert [record.status for record in stored_records(s3_client, bucket)] == ["claimed"]  # old code: final

    carcutter.configure(result_body="image")
    results = operator(images, bucket).execute(task_context())
    assert results[0]["status"] == "final" and results[0]["outputs"]["result"].endswith(".jpg")
    assert output_bytes(s3_client, results[0]["outputs"]["result"])[:2] == b"\xff\xd8"
    assert sum(carcutter.ledger()["charges"].values()) == 1  # asked for its status, never submitted again
    assert_records_match_the_ledger(carcutter, s3_client, bucket)


def test_an_output_already_stored_is_never_overwritten(carcutter, bucket, s3_client, put_photos):
    images = put_photos(per_vehicle=1)
    key = images[0]["source"].removeprefix(f"s3://{bucket}/")
    identity = s3_identity(bucket, key, s3_client.head_object(Bucket=bucket, Key=key)["ETag"])
    digest = options_digest(identity, {"cut_type": "complete"})
    output = output_key("processed", images[0]["vehicle_id"], "carcutter", "0_side-left", digest, ".jpg")
    stored_first = car_photo(99)  # what another run (whose claim was then taken over) stored for this image
    s3_client.put_object(Bucket=bucket, Key=output, Body=stored_first, ContentType="image/jpeg")

    results = operator(images, bucket).execute(task_context())
    assert results[0]["status"] == "final" and results[0]["outputs"]["result"] == f"s3://{bucket}/{output}"
    assert output_bytes(s3_client, results[0]["outputs"]["result"]) == stored_first  # old code: overwritten
    assert_records_match_the_ledger(carcutter, s3_client, bucket)


def test_a_source_uploaded_again_after_it_was_identified_is_not_sent_as_the_old_one(
    carcutter, bucket, s3_client, put_photos
):
    images = put_photos(per_vehicle=1)
    key = images[0]["source"].removeprefix(f"s3://{bucket}/")
    planned = s3_identity(bucket, key, s3_client.head_object(Bucket=bucket, Key=key)["ETag"])  # the plan's identity
    new_photo = car_photo(77)
    s3_client.put_object(Bucket=bucket, Key=key, Body=new_photo, ContentType="image/jpeg")  # the dealer re-uploads

    results = operator([{**images[0], "identity": planned}], bucket, max_failure_ratio=1.0).execute(task_context())
    assert results[0]["status"] == "refused" and "changed after it was identified" in results[0]["error"]
    assert carcutter.ledger()["charges"] == {}  # old code: the new bytes billed and stored under the old identity
    assert stored_records(s3_client, bucket) == []

    rerun = operator(images, bucket).execute(task_context("run-2"))  # the next run identifies the new version
    assert rerun[0]["status"] == "final"
    assert output_bytes(s3_client, rerun[0]["outputs"]["result"]) == new_photo  # fast mode: the bytes fetched
    [record] = stored_records(s3_client, bucket)
    etag = s3_client.head_object(Bucket=bucket, Key=key)["ETag"]
    assert record.identity == s3_identity(bucket, key, etag)
    assert not s3_client.list_objects_v2(Bucket=bucket, Prefix="records/_sources/").get("Contents")  # cleaned up
    assert_records_match_the_ledger(carcutter, s3_client, bucket)


def test_a_versioned_bucket_sends_the_version_inspected_and_copies_nothing(carcutter, bucket, s3_client, put_photos):
    s3_client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    images = put_photos(per_vehicle=2)
    keys = [image["source"].removeprefix(f"s3://{bucket}/") for image in images]
    versions = {key: s3_client.head_object(Bucket=bucket, Key=key)["VersionId"] for key in keys}
    originals = {key: s3_client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}

    results = operator(images, bucket).execute(task_context())

    assert [result["status"] for result in results] == ["final", "final"]
    copies = s3_client.list_object_versions(Bucket=bucket, Prefix="records/_sources/")
    assert not copies.get("Versions") and not copies.get("DeleteMarkers")  # never written, not written and deleted
    for record in stored_records(s3_client, bucket):
        key = record.source.removeprefix(f"s3://{bucket}/")
        sent = unseal(record.sealed_submitted_url)
        assert f"/{bucket}/{key}?" in sent and f"versionId={versions[key]}" in sent
        s3_client.put_object(Bucket=bucket, Key=key, Body=car_photo(99), ContentType="image/jpeg")  # a re-upload
        assert requests.get(sent, timeout=10).content == originals[key]  # what Car-Cutter fetches stays pinned
    for result in results:
        key = result["source"].removeprefix(f"s3://{bucket}/")
        assert output_bytes(s3_client, result["outputs"]["result"]) == originals[key]  # fast mode: the bytes fetched
    assert_records_match_the_ledger(carcutter, s3_client, bucket)


def test_a_photo_uploaded_while_versioning_was_suspended_is_sent_as_a_copy(carcutter, bucket, s3_client, put_photos):
    for status in ("Enabled", "Suspended"):
        s3_client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
    images = put_photos(per_vehicle=1)  # version "null": a later upload of the key replaces it in place
    key = images[0]["source"].removeprefix(f"s3://{bucket}/")
    assert s3_client.head_object(Bucket=bucket, Key=key).get("VersionId") in (None, "null")  # S3 says null, moto none

    [result] = operator(images, bucket).execute(task_context())

    assert result["status"] == "final"
    [record] = stored_records(s3_client, bucket)
    sent = unseal(record.sealed_submitted_url)
    assert "/records/_sources/carcutter/" in sent and "versionId" not in sent  # the copy, never "versionId=null"
    assert_records_match_the_ledger(carcutter, s3_client, bucket)


def claim_sealed_with(fernet_key: bytes, s3_client, bucket: str, image: dict) -> None:
    """Another run's live claim of `image`, its submitted URL sealed with `fernet_key`."""
    key = image["source"].removeprefix(f"s3://{bucket}/")
    identity = s3_identity(bucket, key, s3_client.head_object(Bucket=bucket, Key=key)["ETag"])
    url = presign(s3_client, image["source"])
    record = ImageRecord(
        "carcutter", identity, {"cut_type": "complete"}, RecordStatus.CLAIMED, source=image["source"],
        owner="dag/other/process/-1", owner_try=1, claimed_at=time.time(), submitted_url=redact_url(url),
        sealed_submitted_url=Fernet(fernet_key).encrypt(url.encode()).decode(), attempts=1,
    )  # fmt: skip
    assert ImageRecordStore(bucket).create(record) is not None


def test_a_claim_sealed_with_a_dropped_key_fails_alone(carcutter, bucket, s3_client, put_photos):
    images = put_photos(per_vehicle=3)
    claim_sealed_with(Fernet.generate_key(), s3_client, bucket, images[0])  # a key rotated out since

    results = operator(images, bucket, max_failure_ratio=1.0).execute(task_context())
    assert [row["status"] for row in results] == ["failed", "final", "final"]  # old code: the task raised
    assert "no longer configured" in results[0]["error"] and "new,old" in results[0]["error"]
    assert sum(carcutter.ledger()["charges"].values()) == 2  # the claimed one is never sent again
    assert sorted(record.status for record in stored_records(s3_client, bucket)) == ["claimed", "final", "final"]
    assert_records_match_the_ledger(carcutter, s3_client, bucket)


def test_seals_made_with_a_rotated_key_still_open(carcutter, bucket, s3_client, put_photos, monkeypatch):
    images = put_photos(per_vehicle=1)
    old_key, new_key = os.environ["AIRFLOW__CORE__FERNET_KEY"].encode(), Fernet.generate_key()
    claim_sealed_with(old_key, s3_client, bucket, images[0])
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", f"{new_key.decode()},{old_key.decode()}")  # `new,old`
    get_fernet.cache_clear()
    try:
        assert unseal(seal("https://x/y.jpg?sig=1")) == "https://x/y.jpg?sig=1"
        Fernet(new_key).decrypt(seal("https://x/y.jpg").encode())  # new seals use the new key
        results = operator(images, bucket, claim_lease_seconds=0.5).execute(task_context())
    finally:
        monkeypatch.undo()
        get_fernet.cache_clear()
    assert results[0]["status"] == "final"
    assert sum(carcutter.ledger()["charges"].values()) == 1
    assert_records_match_the_ledger(carcutter, s3_client, bucket)


def test_a_synchronous_result_that_is_not_an_image_is_recorded_failed_not_stored(
    carcutter, bucket, s3_client, put_photos
):
    images = put_photos(per_vehicle=2)
    for image, body in zip(images, ("html", "empty"), strict=True):
        carcutter.configure(result_body=body)
        task = CarCutterSingleSegmentOperator(
            task_id="s", source=image["source"], vehicle_id=image["vehicle_id"], dest_bucket=bucket,
            cut_type="complete", carcutter_conn_id=CONN_ID,
        )  # fmt: skip
        with pytest.raises(AirflowFailException, match=r"an HTML page|empty \(0 bytes\)"):
            task.execute({})  # old code: stored as .jpg and final
    assert not s3_client.list_objects_v2(Bucket=bucket, Prefix="processed/").get("Contents")
    records = stored_records(s3_client, bucket)
    assert [record.status for record in records] == ["failed", "failed"]  # billed: never called again blindly
    assert_records_match_the_ledger(carcutter, s3_client, bucket)


def test_a_trigger_that_cannot_open_one_seal_still_watches_the_others(carcutter, bucket, s3_client, put_photos):
    images = put_photos(per_vehicle=2)
    with pytest.raises(TaskDeferred) as deferred:
        operator(images, bucket, deferrable=True).execute(task_context())
    batch_bucket, _, batch_key = deferred.value.trigger.batch_uri.removeprefix("s3://").partition("/")
    state = json.loads(s3_client.get_object(Bucket=batch_bucket, Key=batch_key)["Body"].read())
    state["images"][0]["sealed_url"] = Fernet(Fernet.generate_key()).encrypt(b"https://x/y.jpg").decode()
    s3_client.put_object(Bucket=batch_bucket, Key=batch_key, Body=json.dumps(state).encode())

    event = run_deferred(deferred.value)  # old code: InvalidToken, the whole batch's wait ended in an error
    assert event["status"] == "complete"
    statuses = json.loads(s3_client.get_object(Bucket=batch_bucket, Key=f"{batch_key}.statuses.json")["Body"].read())
    assert set(statuses) == {state["images"][1]["digest"]} and statuses[state["images"][1]["digest"]]["known"]
