"""The housekeeping operators: the credit threshold, and deleting images from Clipping Magic once archived."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk.exceptions import AirflowFailException

from tests.clippingmagic.conftest import jpeg_bytes, put_images
from vehicle_photos.clippingmagic.hooks.clippingmagic import ClippingMagicHook
from vehicle_photos.clippingmagic.operators.account import ClippingMagicAccountOperator
from vehicle_photos.clippingmagic.operators.auto_clip import ClippingMagicAutoClipOperator
from vehicle_photos.clippingmagic.operators.delete import ClippingMagicDeleteOperator
from vehicle_photos.image_common.record_index import RecordIndex
from vehicle_photos.image_common.record_store import ImageRecordStore


def test_the_account_operator_fails_below_the_threshold_or_warns(cm, fast_conn):
    cm.configure(credits=10)
    conn_id = fast_conn()

    warned = ClippingMagicAccountOperator(
        task_id="account", min_credits="50", on_low_credits="warn", clippingmagic_conn_id=conn_id
    ).execute({})
    with pytest.raises(AirflowFailException, match="10 credits left, below the threshold of 50"):
        ClippingMagicAccountOperator(task_id="account", min_credits=50, clippingmagic_conn_id=conn_id).execute({})
    with pytest.raises(ValueError, match="on_low_credits must be one of"):
        ClippingMagicAccountOperator(task_id="account", on_low_credits="shrug", clippingmagic_conn_id=conn_id).execute(
            {}
        )

    assert warned["credits"] == 10 and warned["subscriptionState"] == "active"


def test_deleting_by_age_removes_only_images_whose_outputs_are_archived(cm, s3_client, bucket, fast_conn):
    keys = [f"photos/V1/{n:02d}-front.jpg" for n in range(2)]
    put_images(s3_client, bucket, keys)
    conn_id = fast_conn()
    images = [f"s3://{bucket}/{key}" for key in keys]
    ClippingMagicAutoClipOperator(task_id="clip", images=images, dest_bucket=bucket, clippingmagic_conn_id=conn_id,
                                  outputs=["result"]).execute({})  # fmt: skip
    waiting_for_edit = ClippingMagicHook(conn_id).upload(jpeg_bytes(), filename="review-me.jpg", test=True)
    index = RecordIndex(ImageRecordStore(bucket), "clippingmagic")
    archived = sorted(index.load().values(), key=lambda record: record.provider_ref["image_id"])
    ten_days_ago = (datetime.now(UTC) - timedelta(days=10)).isoformat()
    index.append([dataclasses.replace(archived[0], updated_at=ten_days_ago)])  # a later index entry wins

    deleted = ClippingMagicDeleteOperator(
        task_id="delete", older_than_days="7", records_bucket=bucket, clippingmagic_conn_id=conn_id
    ).execute({})

    old_id, recent_id = (record.provider_ref["image_id"] for record in archived)
    assert deleted == {"deleted": [old_id], "already_gone": []}
    assert {image.id for image in ClippingMagicHook(conn_id).list_images()} == {recent_id, waiting_for_edit.id}

    by_id = ClippingMagicDeleteOperator(
        task_id="delete", image_ids=[{"id": old_id, "status": "final"}, {"id": recent_id, "status": "failed"}],
        clippingmagic_conn_id=conn_id,
    ).execute({})  # fmt: skip
    assert by_id == {"deleted": [], "already_gone": [old_id]}, "an image whose results were not stored is kept"
    with pytest.raises(ValueError, match="older_than_days needs records_bucket"):
        ClippingMagicDeleteOperator(task_id="delete", older_than_days=7).execute({})
