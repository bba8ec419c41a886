"""Human review round trip (upload, deferrable wait, download) and secrets kept out of logs and XCom."""

from __future__ import annotations

import json
import threading
import time

import requests

from tests.clippingmagic.airflow_runs import run_dag, run_supervised, task_states, xcom
from tests.clippingmagic.conftest import jpeg_bytes, person_edits_when, put_images
from vehicle_photos.clippingmagic.hooks.clippingmagic import ClippingMagicHook
from vehicle_photos.clippingmagic.operators.review import ClippingMagicUploadForReviewOperator
from vehicle_photos.clippingmagic.utils.editor_secret import decrypt_image_secret
from vehicle_photos.clippingmagic.utils.upload_claims import upload_name
from vehicle_photos.image_common.identity import s3_identities
from vehicle_photos.image_common.record_store import ImageRecordStore
from vehicle_photos.image_common.records import ImageRecord, options_digest
from vehicle_photos.image_common.sources import ImageSource
from vehicle_photos.image_common.statuses import RecordStatus

KEYS = ["photos/V5/3_interior.jpg", "photos/V5/4_detail.jpg"]


def review_dag(bucket: str) -> str:
    return f"""
    upload = ClippingMagicUploadForReviewOperator(task_id="upload", images={KEYS!r}, dest_bucket={bucket!r})
    edited = ClippingMagicResultSensor(
        task_id="wait_for_edit", image_ids=upload.output, poke_interval=0.2, timeout=240, deferrable=True
    )
    download = ClippingMagicDownloadOperator(
        task_id="download", image_ids=edited.output, dest_bucket={bucket!r},
        formats=["result", "clipping_path_svg", "json"],
    )
    upload >> edited >> download
    """


def edit_once_the_sensor_waits(cm, expected_images: int) -> threading.Thread:
    """A person finishing the clip in ClippingMagic.js after the sensor's first poke saw "no result yet" for
    every image (and had time to defer), so the sensor can only succeed through its trigger."""

    def polled(images: list[dict]) -> bool:
        return len(images) == expected_images and cm.requests()["counts"].get("download", 0) >= expected_images

    return person_edits_when(cm, polled, settle=0.5)


def test_review_round_trip_waits_in_the_trigger_and_never_bills_twice(
    airflow_home, cm, s3_client, bucket, tmp_path, monkeypatch
):
    put_images(s3_client, bucket, KEYS)
    editor = edit_once_the_sensor_waits(cm, len(KEYS))

    first = run_dag(tmp_path / "dags", monkeypatch, "cm_review", review_dag(bucket))
    editor.join()

    assert task_states(first) == {"upload": "success", "wait_for_edit": "success", "download": "success"}
    uploaded = xcom(first, "upload")
    assert [item["resultRevision"] for item in uploaded] == [0, 0]
    edited = xcom(first, "wait_for_edit")
    assert [item["resultRevision"] for item in edited] == [1, 1]
    downloaded = xcom(first, "download")
    for item in downloaded:
        stem = f"s3://{bucket}/clippingmagic/results/{item['id']}/r1"
        assert item["outputs"] == {"result": f"{stem}.png", "clipping_path_svg": f"{stem}.svg", "json": f"{stem}.json"}
        assert item["credits_charged"] == 1
    charges = cm.ledger()["charges"]
    assert charges == {str(item["id"]): 1 for item in uploaded}
    stored_json = json.loads(
        s3_client.get_object(Bucket=bucket, Key=f"clippingmagic/results/{uploaded[0]['id']}/r1.json")["Body"].read()
    )
    assert "secret" not in stored_json

    # Rerun (a cleared DAG run, a backfill): no new upload, no waiting, no second charge.
    counts = cm.requests()["counts"]
    second = run_dag(tmp_path / "dags", monkeypatch, "cm_review", review_dag(bucket))
    assert task_states(second) == {"upload": "success", "wait_for_edit": "success", "download": "success"}
    assert [item["id"] for item in xcom(second, "upload")] == [item["id"] for item in uploaded]
    assert [item["reused"] for item in xcom(second, "download")] == [True, True]
    assert cm.requests()["counts"]["upload"] == counts["upload"]
    assert cm.requests()["counts"].get("storage", 0) == counts.get("storage", 0)
    assert cm.ledger()["charges"] == charges


def test_secrets_never_reach_the_task_log_or_xcom(airflow_home, cm, s3_client, bucket, tmp_path, monkeypatch):
    put_images(s3_client, bucket, KEYS[:1])
    run = run_dag(
        tmp_path / "dags", monkeypatch, "cm_secrets",
        f"""
        upload = ClippingMagicUploadForReviewOperator(task_id="upload", images={KEYS[:1]!r}, dest_bucket={bucket!r})

        @task
        def careless_logging(uploaded):
            import logging
            from vehicle_photos.clippingmagic.hooks.clippingmagic import ClippingMagicHook
            hook = ClippingMagicHook()
            image = hook.get_image(uploaded[0]["id"])
            logging.getLogger("airflow.task").info(
                "image %s secret is %s and the API key is %s", image.id, image.secret, hook.settings.api_key
            )
            print("uploaded:", uploaded, "secret:", image.secret)

        careless_logging(upload.output)
        """,
    )  # fmt: skip
    uploaded = xcom(run, "upload")[0]
    secret = image_secret(cm, uploaded["id"])
    assert set(uploaded) == {
        "source", "vehicle_id", "name", "id", "resultRevision", "originalFilename", "test", "secret_encrypted"
    }  # fmt: skip
    assert secret not in json.dumps(uploaded)
    assert decrypt_image_secret(uploaded["secret_encrypted"]) == secret

    # Both tasks again as a worker runs them; their log files are what users read.
    upload_log = run_supervised(run, "upload", tmp_path / "upload.log")
    careless_log = run_supervised(run, "careless_logging", tmp_path / "careless.log")

    assert f"is already uploaded for review as image {uploaded['id']}" in upload_log
    assert f"image {uploaded['id']} secret is *** and the API key is ***" in careless_log
    assert "secret: ***" in careless_log
    for log in (upload_log, careless_log):
        assert secret not in log and cm.api_key not in log


def image_secret(cm, image_id: int) -> str:
    answer = requests.get(
        f"{cm.url}/api/v1/images/{image_id}", params={"format": "json"}, auth=(cm.api_id, cm.api_key), timeout=5
    )
    return answer.json()["image"]["secret"]


def test_a_review_upload_whose_answer_was_lost_is_found_not_duplicated(cm, s3_client, bucket, fast_conn):
    put_images(s3_client, bucket, KEYS[:1])
    uri = f"s3://{bucket}/{KEYS[0]}"
    identity = s3_identities(s3_client, [ImageSource(uri)])[0][uri]
    digest = options_digest(identity, {"review": True, "test": True})
    # A crashed try claimed the image and uploaded it; the answer naming the image never arrived.
    claim = ImageRecord("clippingmagic", identity, {"review": True, "test": True}, RecordStatus.CLAIMED, source=uri,
                        owner="clippingmagic_review/crashed/upload_for_review/-1", claimed_at=time.time() - 7200,
                        lease_seconds=1.0, upload_name=upload_name("3_interior", digest), attempts=1)  # fmt: skip
    ImageRecordStore(bucket).create(claim)
    time.sleep(2.1)  # its holder died: one lease after its last write (S3's clock, 1 s resolution) it is free
    lost = ClippingMagicHook(fast_conn()).upload(jpeg_bytes(), filename=f"{claim.upload_name}.jpg", test=True)
    operator = ClippingMagicUploadForReviewOperator(
        task_id="upload", images=[uri], dest_bucket=bucket, test=True, clippingmagic_conn_id=fast_conn()
    )

    (uploaded,) = operator.execute({})
    (again,) = operator.execute({})

    assert uploaded["id"] == again["id"] == lost.id and uploaded["test"] is True
    assert decrypt_image_secret(uploaded["secret_encrypted"]) == lost.secret
    assert cm.requests()["counts"]["upload"] == 1
    record = ImageRecordStore(bucket).get("clippingmagic", digest).record
    assert (record.status, record.provider_ref, record.attempts) == ("final", {"image_id": lost.id}, 2)
