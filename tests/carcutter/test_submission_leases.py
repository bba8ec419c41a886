"""Car-Cutter claims are leases that live (issue 18, point 4), on moto's S3 server: claims not posted yet are
renewed while the task claims and posts, and one another run took over meanwhile is never posted but followed."""

from __future__ import annotations

import time

from vehicle_photos.carcutter.utils.batch import BatchImage
from vehicle_photos.carcutter.utils.submission_claims import SubmissionClaims
from vehicle_photos.image_common.claims import ClaimHolder
from vehicle_photos.image_common.record_store import ImageRecordStore
from vehicle_photos.image_common.records import options_digest
from vehicle_photos.image_common.statuses import BatchState

OPTIONS = {"cut_type": "complete"}
LEASE = 1.5


def batch_image(n: int) -> BatchImage:
    identity = f"s3://photos/V1/{n}.jpg#etag=1"
    return BatchImage(source=f"s3://photos/V1/{n}.jpg", shown_source=f"s3://photos/V1/{n}.jpg", vehicle_id="V1",
                      name=str(n), identity=identity, digest=options_digest(identity, OPTIONS))  # fmt: skip


def test_claims_waiting_to_be_posted_are_renewed_and_a_lost_one_is_followed_not_posted(moto_s3, bucket):
    store = ImageRecordStore(bucket)
    claims = SubmissionClaims(store, ClaimHolder("dag/run-1/process/-1"), OPTIONS, LEASE, grace_seconds=60)
    kept, lost = batch_image(0), batch_image(1)
    with claims.keeper:
        for image in (kept, lost):
            claims.claim(image, f"https://photos.example/{image.name}.jpg?X-Amz-Signature=s")
        time.sleep(LEASE)  # a slow start of the chunk (429 back-off, earlier chunks): renewed meanwhile
        renewed = store.get("carcutter", kept.digest)
        assert renewed.record.lease_renewals >= 1 and renewed.age is not None and renewed.age <= 1
        current = store.get("carcutter", lost.digest)
        taker = ClaimHolder("dag/run-2/process/-1")
        store.replace(current, current.record.touched(**taker.stamp(LEASE)))  # as if its lease had run out
        time.sleep(LEASE / 5)

        assert claims.still_held([kept, lost]) == [kept]
        claims.release([kept])

    assert (kept.state, kept.mine) == (BatchState.CLAIMED, True)
    assert kept.record_etag == store.get("carcutter", kept.digest).etag, "the version renewed last is the one held"
    assert (lost.state, lost.mine) == (BatchState.WAITING, False), "the new holder's claim is followed"
    assert store.get("carcutter", lost.digest).record.owner == taker.key
