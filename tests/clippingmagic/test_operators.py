"""The operators run by Airflow against the Clipping Magic stand-in and moto's S3 server."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime, timedelta

import pytest

from clippingmagic.hooks.clippingmagic import ClippingMagicHook
from image_records import ImageRecord, ImageRecordStore, s3_image_identity
from tests.clippingmagic.airflow_runs import run_dag, task_states, xcom
from tests.clippingmagic.conftest import jpeg_bytes, put_images, read_json

KEYS = ["photos/V1/1_front.jpg", "photos/V1/2_rear.jpg", "photos/V2/1_interior.jpg"]
ALL_OUTPUTS = ("result", "clipping_path_svg", "alpha_mask_png")


def auto_clip_task(bucket: str, keys: list[str] | None = None, **options) -> str:
    arguments = {"source_keys": keys or KEYS, "concurrency": 2, "rate_limit_base_wait": 0.01, **options}
    rendered = ", ".join(f"{name}={value!r}" for name, value in arguments.items())
    return f"ClippingMagicAutoClipOperator(task_id='auto_clip', source_bucket={bucket!r}, {rendered})"


def billable_calls(cm) -> int:
    counts = cm.requests()["counts"]
    return counts.get("upload", 0) + counts.get("storage", 0)


@pytest.fixture
def photos(s3_client, bucket):
    put_images(s3_client, bucket, KEYS)
    return KEYS


def test_auto_clip_stores_every_output_and_a_rerun_bills_nothing(
    airflow_home, cm, s3_client, bucket, photos, tmp_path, monkeypatch
):
    first = run_dag(tmp_path / "dags", monkeypatch, "cm_auto_clip", auto_clip_task(bucket))

    assert task_states(first) == {"auto_clip": "success"}
    results = xcom(first, "auto_clip")
    assert [r["source"] for r in results] == [f"s3://{bucket}/{key}" for key in KEYS]
    assert all(r["status"] == "final" and r["credits_charged"] == 1 and r["revision"] == 1 for r in results)
    assert all(not r["reused"] and r["error"] is None and r["test"] is False for r in results)
    front = results[0]["outputs"]
    stem = f"s3://{bucket}/processed/V1/clippingmagic/1_front"
    assert front == {
        "result": f"{stem}.png",
        "clipping_path_svg": f"{stem}.svg",
        "alpha_mask_png": f"{stem}.mask.png",
    }
    assert s3_client.get_object(Bucket=bucket, Key="processed/V1/clippingmagic/1_front.svg")["Body"].read().strip()
    per_image = read_json(s3_client, bucket, "processed/V1/clippingmagic/1_front.json")
    assert per_image["id"] == results[0]["id"] and per_image["credits_charged"] == 1
    assert per_image["outputs"] == front and per_image["test"] is False and per_image["error"] is None
    charges = cm.ledger()["charges"]
    assert charges == {str(r["id"]): 1 for r in results}
    calls_before = cm.requests()["counts"]

    # The same images again, now through a manifest: everything comes from the records.
    s3_client.put_object(Bucket=bucket, Key="manifests/today.json", Body=str(KEYS).replace("'", '"').encode())
    second = run_dag(
        tmp_path / "dags", monkeypatch, "cm_auto_clip",
        f"ClippingMagicAutoClipOperator(task_id='auto_clip', manifest_key='s3://{bucket}/manifests/today.json')",
    )  # fmt: skip

    rerun = xcom(second, "auto_clip")
    assert [r["reused"] for r in rerun] == [True, True, True]
    assert [r["credits_charged"] for r in rerun] == [0, 0, 0]
    assert [r["outputs"] for r in rerun] == [r["outputs"] for r in results]
    assert cm.requests()["counts"] == calls_before, "a rerun of a finished batch calls Clipping Magic not at all"
    assert cm.ledger()["charges"] == charges


def test_auto_clip_takes_http_sources_and_vehicle_folders(
    airflow_home, cm, s3_client, bucket, photos, local_stack, tmp_path, monkeypatch
):
    s3_client.put_object_acl(Bucket=bucket, Key=KEYS[2], ACL="public-read")
    url = f"{local_stack.s3_url}/{bucket}/{KEYS[2]}"
    items = [{"source": f"s3://{bucket}/{KEYS[0]}", "vehicle_id": "WVWZZZ1JZXW000001"}, url]
    run = run_dag(tmp_path / "dags", monkeypatch, "cm_sources", auto_clip_task(bucket, keys=items))

    by_vehicle, by_url = xcom(run, "auto_clip")
    assert by_vehicle["outputs"]["result"] == f"s3://{bucket}/processed/WVWZZZ1JZXW000001/clippingmagic/1_front.png"
    assert by_url["source"] == url
    assert by_url["status"] == "final"
    assert by_url["outputs"]["result"] == f"s3://{bucket}/processed/V2/clippingmagic/1_interior.png"
    assert sum(cm.ledger()["charges"].values()) == 2


def test_an_upload_recorded_before_a_crash_is_resumed_by_download(
    airflow_home, cm, s3_client, bucket, photos, tmp_path, monkeypatch
):
    # A previous attempt uploaded the first image and recorded its id, then died before storing anything.
    hook = ClippingMagicHook(rate_limit_base_wait=0.01)
    earlier = hook.auto_clip(jpeg_bytes(), io.BytesIO(), filename="1_front.jpg")
    store = ImageRecordStore(bucket)
    identity = s3_image_identity(s3_hook(), bucket, KEYS[0])
    options = {"format": "result", "test": False, "outputs": sorted(ALL_OUTPUTS)}
    store.put(ImageRecord("clippingmagic", identity, options, "submitted", provider_ref={"image_id": earlier.image_id},
                          credits_charged=1, attempts=1, source=f"s3://{bucket}/{KEYS[0]}"))  # fmt: skip
    uploads_before = cm.requests()["counts"]["upload"]

    run = run_dag(tmp_path / "dags", monkeypatch, "cm_resume", auto_clip_task(bucket, records_bucket=bucket))

    results = xcom(run, "auto_clip")
    assert results[0]["id"] == earlier.image_id and results[0]["credits_charged"] == 0
    assert results[0]["outputs"]["result"].endswith("processed/V1/clippingmagic/1_front.png")
    assert cm.requests()["counts"]["upload"] - uploads_before == 2, "only the two images never uploaded"
    assert set(cm.ledger()["charges"].values()) == {1}, "the resumed image was not charged again"
    assert store.get("clippingmagic", identity, options).attempts == 2


def test_an_upload_whose_answer_was_lost_before_a_crash_is_found_and_not_uploaded_again(
    airflow_home, cm, s3_client, bucket, photos, tmp_path, monkeypatch
):
    # An earlier attempt started (its record says so) and Clipping Magic took the upload, but the worker died
    # before the answer named the image id. The upload carried a file name unique to the image and options.
    store = ImageRecordStore(bucket)
    identity = s3_image_identity(s3_hook(), bucket, KEYS[0])
    options = {"format": "result", "test": False, "outputs": sorted(ALL_OUTPUTS)}
    started = ImageRecord(
        "clippingmagic", identity, options, "submitted", attempts=1, source=f"s3://{bucket}/{KEYS[0]}"
    )
    store.put(started)
    lost = ClippingMagicHook().auto_clip(jpeg_bytes(), io.BytesIO(), filename=f"1_front.{started.digest[:12]}.jpg")

    run = run_dag(tmp_path / "dags", monkeypatch, "cm_lost", auto_clip_task(bucket, [KEYS[0]]))

    (result,) = xcom(run, "auto_clip")
    assert result["id"] == lost.image_id and result["status"] == "final" and result["credits_charged"] == 0
    assert cm.requests()["counts"]["upload"] == 1
    assert cm.ledger()["charges"] == {str(lost.image_id): 1}
    assert store.get("clippingmagic", identity, options).credits_charged == 1


def test_failures_are_recorded_and_fail_the_task_only_above_the_allowed_share(
    airflow_home, cm, s3_client, bucket, photos, tmp_path, monkeypatch
):
    s3_client.put_object(Bucket=bucket, Key="photos/V3/broken.jpg", Body=b"not an image at all")
    keys = [*KEYS, "photos/V3/broken.jpg"]

    tolerant = run_dag(
        tmp_path / "dags", monkeypatch, "cm_tolerant", auto_clip_task(bucket, keys, max_failure_ratio=0.25)
    )

    assert task_states(tolerant) == {"auto_clip": "success"}
    results = xcom(tolerant, "auto_clip")
    assert [r["status"] for r in results] == ["final", "final", "final", "error"]
    assert results[3]["error"].startswith(f"UnreadableImageError for s3://{bucket}/photos/V3/broken.jpg: ")
    assert results[3]["id"] is None
    record = ImageRecordStore(bucket).get(
        "clippingmagic",
        s3_image_identity(s3_hook(), bucket, "photos/V3/broken.jpg"),
        {"format": "result", "test": False, "outputs": sorted(ALL_OUTPUTS)},
    )
    assert record.status == "error" and "UnreadableImageError" in record.last_error

    strict = run_dag(tmp_path / "dags", monkeypatch, "cm_strict", auto_clip_task(bucket, keys, max_failure_ratio=0.0))

    assert task_states(strict) == {"auto_clip": "failed"}
    partial = xcom(strict, "auto_clip", key="image_results")
    assert [r["reused"] for r in partial] == [True, True, True, False]
    assert len(cm.ledger()["charges"]) == 3


def test_running_out_of_credits_stops_new_uploads(airflow_home, cm, s3_client, bucket, tmp_path, monkeypatch):
    keys = [f"photos/V9/{n}_front.jpg" for n in range(5)]
    put_images(s3_client, bucket, keys)
    cm.configure(credits=2)

    run = run_dag(tmp_path / "dags", monkeypatch, "cm_credits", auto_clip_task(bucket, keys, concurrency=1))

    assert task_states(run) == {"auto_clip": "failed"}
    results = xcom(run, "auto_clip", key="image_results")
    assert [r["status"] for r in results] == ["final", "final", "error", "skipped", "skipped"]
    assert "BillingError" in results[2]["error"] and "BillingError" in results[3]["error"]
    assert cm.requests()["counts"]["upload"] == 3
    assert sum(cm.ledger()["charges"].values()) == 2


@pytest.mark.parametrize(("on_low_credits", "state"), [("warn", "success"), ("fail", "failed")])
def test_account_operator_checks_the_threshold(airflow_home, cm, tmp_path, monkeypatch, on_low_credits, state):
    cm.configure(credits=10)
    run = run_dag(
        tmp_path / "dags", monkeypatch, f"cm_account_{on_low_credits}",
        f"ClippingMagicAccountOperator(task_id='account', min_credits=50, on_low_credits={on_low_credits!r})",
    )  # fmt: skip
    assert task_states(run) == {"account": state}
    if state == "success":
        assert xcom(run, "account")["credits"] == 10


def test_delete_by_age_removes_only_archived_images(airflow_home, cm, s3_client, bucket, photos, tmp_path, monkeypatch):
    clipped = xcom(run_dag(tmp_path / "dags", monkeypatch, "cm_to_delete", auto_clip_task(bucket)), "auto_clip")
    not_archived = ClippingMagicHook().upload(jpeg_bytes(), filename="review-me.jpg", test=True)
    store = ImageRecordStore(bucket)
    old = next(r for r in store.iter_records("clippingmagic") if r.provider_ref["image_id"] == clipped[0]["id"])
    store.put(dataclasses.replace(old, updated_at=(datetime.now(UTC) - timedelta(days=10)).isoformat()))

    run = run_dag(
        tmp_path / "dags", monkeypatch, "cm_delete_by_age",
        f"ClippingMagicDeleteOperator(task_id='delete', older_than_days=7, records_bucket={bucket!r})",
    )  # fmt: skip

    assert xcom(run, "delete") == {"deleted": [clipped[0]["id"]], "already_gone": []}
    remaining = {image.id for image in ClippingMagicHook().list_images()}
    assert remaining == {clipped[1]["id"], clipped[2]["id"], not_archived.id}


def s3_hook():
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id="aws_default")
