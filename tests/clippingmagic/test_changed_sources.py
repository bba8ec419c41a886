"""Clipping Magic is sent the bytes of the version an image's identity names (stand-in and moto's S3 server)."""

from __future__ import annotations

from tests.clippingmagic.conftest import items, jpeg_bytes
from tests.clippingmagic.test_auto_clip import KEYS, identity_of, photos  # noqa: F401 - photos is a fixture


def test_a_source_uploaded_again_after_it_was_identified_is_not_uploaded(cm, s3_client, bucket, photos, auto_clip):  # noqa: F811 - the photos fixture
    identities = [identity_of(s3_client, bucket, key) for key in KEYS]  # what the plan identified
    planned = [{**item, "identity": identity} for item, identity in zip(photos, identities, strict=True)]
    s3_client.put_object(Bucket=bucket, Key=KEYS[0], Body=jpeg_bytes(colour="yellow"))  # the dealer re-uploads

    results = auto_clip(bucket, planned, max_failure_ratio=1.0)
    assert [row["status"] for row in results] == ["refused", "final", "final"]  # old code: new bytes, old identity
    assert "changed after it was identified" in results[0]["error"]
    assert sum(cm.ledger()["charges"].values()) == 2

    rerun = auto_clip(bucket, items(bucket, KEYS[:1]))  # identified again: the new version
    assert rerun[0]["status"] == "final" and rerun[0]["identity"] == identity_of(s3_client, bucket, KEYS[0])
    assert sum(cm.ledger()["charges"].values()) == 3
