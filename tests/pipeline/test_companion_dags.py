"""The companion DAGs under `airflow dags test` on the local stack: a human touch-up round trip, and the
daily housekeeping (credit threshold, deleting archived images from Clipping Magic)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from PIL import Image

from clippingmagic.hooks.clippingmagic import ClippingMagicHook
from image_records import ImageRecord, ImageRecordStore, s3_image_identity
from image_records.record import FINAL
from tests.clippingmagic.conftest import jpeg_bytes


def dags_test(dag_id: str, conf: dict, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "airflow", "dags", "test", dag_id, "2026-11-03", "-c", json.dumps(conf)]
    return subprocess.Popen(command, env=dict(os.environ), stdout=log.open("w"), stderr=subprocess.STDOUT)


def test_review_round_trip(airflow_home, clippingmagic_server, s3_client, bucket, tmp_path):
    keys = ["photos/V1/7_interior.jpg", "photos/V2/3_detail.jpg"]
    for key in keys:
        s3_client.put_object(Bucket=bucket, Key=key, Body=jpeg_bytes())
    log = tmp_path / "review.log"
    run = dags_test("clippingmagic_review", {"bucket": bucket, "source_keys": keys}, log)

    deadline = time.monotonic() + 120
    while "waiting for a new result" not in log.read_text():  # the sensor is waiting for the person
        assert run.poll() is None, log.read_text()[-4000:]
        assert time.monotonic() < deadline, "the sensor never started waiting"
        time.sleep(0.5)
    hook = ClippingMagicHook()
    uploaded = list(hook.list_images())
    assert len(uploaded) == len(keys)
    assert all(image.result_revision == 0 for image in uploaded)
    for image in uploaded:  # a person saves an edit in ClippingMagic.js
        requests.post(f"{clippingmagic_server.url}/_emulator/images/{image.id}/edit", timeout=10).raise_for_status()
    assert run.wait(timeout=300) == 0, log.read_text()[-4000:]

    stored = s3_client.list_objects_v2(Bucket=bucket, Prefix="processed/clippingmagic-review/")["Contents"]
    names = sorted(item["Key"].rsplit("/", 1)[-1] for item in stored)
    assert names == sorted(["r1.png", "r1.svg", "r1.mask.png", "r1.json"] * len(keys))
    result = s3_client.get_object(Bucket=bucket, Key=next(i["Key"] for i in stored if i["Key"].endswith("r1.png")))
    assert Image.open(io.BytesIO(result["Body"].read())).mode == "RGBA"
    assert list(hook.list_images()) == []  # deleted from the service once archived
    assert sorted(clippingmagic_server.ledger()["charges"].values()) == [1, 1]
    for image in uploaded:
        assert image.secret not in log.read_text()


def test_housekeeping_deletes_only_archived_old_images_and_checks_credits(
    airflow_home, clippingmagic_server, s3_client, bucket, tmp_path
):
    hook = ClippingMagicHook()
    s3_client.put_object(Bucket=bucket, Key="photos/V1/1.jpg", Body=jpeg_bytes())
    archived = hook.upload(io.BytesIO(jpeg_bytes()), filename="archived.jpg")
    waiting = hook.upload(io.BytesIO(jpeg_bytes()), filename="waiting-for-edit.jpg")
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    identity = s3_image_identity(S3Hook(), bucket, "photos/V1/1.jpg")
    old = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    ImageRecordStore(bucket).put(
        ImageRecord(
            "clippingmagic", identity, {"format": "result"}, FINAL, provider_ref={"image_id": archived.id},
            outputs={"result": f"s3://{bucket}/processed/V1/clippingmagic/1.png"}, updated_at=old,
        )
    )  # fmt: skip

    log = tmp_path / "housekeeping.log"
    ok = dags_test("api_housekeeping", {"bucket": bucket, "min_credits": 10, "delete_after_days": 7}, log)
    assert ok.wait(timeout=300) == 0, log.read_text()[-4000:]
    assert [image.id for image in hook.list_images()] == [waiting.id]

    clippingmagic_server.configure(credits=3)
    low = dags_test("api_housekeeping", {"bucket": bucket, "min_credits": 10, "delete_after_days": 7}, log)
    assert low.wait(timeout=300) != 0
    assert "credits" in log.read_text()
