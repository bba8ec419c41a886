"""The companion DAGs run by Airflow (`dag.test()`: tasks, XCom, deferral to the trigger) on the local stack:
a human touch-up round trip, and the daily housekeeping (credit threshold, deleting archived images from
Clipping Magic)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image

from tests.clippingmagic.airflow_runs import task_states, xcom
from tests.clippingmagic.conftest import jpeg_bytes, person_edits_when
from vehicle_photos.clippingmagic.hooks.clippingmagic import ClippingMagicHook
from vehicle_photos.image_common.record_index import RecordIndex
from vehicle_photos.image_common.record_store import ImageRecordStore
from vehicle_photos.image_common.records import ImageRecord
from vehicle_photos.image_common.statuses import RecordStatus

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


def run_companion(dag_id: str, conf: dict[str, Any]) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS_FOLDER / f"{dag_id}.py")).get_dag(dag_id)
    return dag.test(run_conf=conf)


def test_review_round_trip(airflow_home, clippingmagic_server, s3_client, bucket):
    keys = ["photos/V1/7_interior.jpg", f"s3://{bucket}/photos/V2/3_detail.jpg"]
    for key in ("photos/V1/7_interior.jpg", "photos/V2/3_detail.jpg"):
        s3_client.put_object(Bucket=bucket, Key=key, Body=jpeg_bytes())
    editor = person_edits_when(clippingmagic_server, lambda images: len(images) == len(keys))  # once uploaded

    run = run_companion("clippingmagic_review", {"bucket": bucket, "source_keys": keys})
    editor.join()

    assert set(task_states(run).values()) == {"success"}, task_states(run)
    uploaded = xcom(run, "upload_for_review")
    assert [(item["name"], item["resultRevision"]) for item in uploaded] == [("7_interior", 0), ("3_detail", 0)]
    stored = s3_client.list_objects_v2(Bucket=bucket, Prefix="processed/clippingmagic-review/")["Contents"]
    names = sorted(item["Key"].rsplit("/", 1)[-1] for item in stored)
    assert names == sorted(["r1.png", "r1.svg", "r1.mask.png", "r1.json"] * len(keys))
    result = s3_client.get_object(Bucket=bucket, Key=next(i["Key"] for i in stored if i["Key"].endswith("r1.png")))
    assert Image.open(io.BytesIO(result["Body"].read())).mode == "RGBA"
    assert list(ClippingMagicHook().list_images()) == []  # deleted from the service once archived
    assert sorted(clippingmagic_server.ledger()["charges"].values()) == [1, 1]


def test_housekeeping_deletes_only_archived_old_images_and_checks_credits(
    airflow_home, clippingmagic_server, s3_client, bucket
):
    hook = ClippingMagicHook()
    archived = hook.upload(jpeg_bytes(), filename="archived.jpg")
    waiting = hook.upload(jpeg_bytes(), filename="waiting-for-edit.jpg")
    old = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    RecordIndex(ImageRecordStore(bucket), "clippingmagic").append([
        ImageRecord("clippingmagic", f"s3://{bucket}/photos/V1/1.jpg#etag=abc", {"test": False, "outputs": ["result"]},
                    RecordStatus.FINAL, provider_ref={"image_id": archived.id}, updated_at=old,
                    outputs={"result": f"s3://{bucket}/processed/V1/clippingmagic/1-abc.png"}),
    ])  # fmt: skip

    ok = run_companion("api_housekeeping", {"bucket": bucket, "min_credits": 10, "delete_after_days": 7})

    assert set(task_states(ok).values()) == {"success"}, task_states(ok)
    assert xcom(ok, "delete_archived_clippingmagic_images") == {"deleted": [archived.id], "already_gone": []}
    assert [image.id for image in hook.list_images()] == [waiting.id]

    clippingmagic_server.configure(credits=3)
    low = run_companion("api_housekeeping", {"bucket": bucket, "min_credits": 10, "delete_after_days": 7})
    assert task_states(low)["check_clippingmagic_credits"] == "failed"
