"""Image records on moto's S3 server: a claim is held by exactly one writer, changes are conditional on the
version read, and the index of final records answers in bulk."""

from __future__ import annotations

import threading
import time

import pytest

from vehicle_photos.image_common.claims import ClaimHolder
from vehicle_photos.image_common.record_index import RecordIndex
from vehicle_photos.image_common.record_store import ImageRecordStore, RecordChangedError
from vehicle_photos.image_common.records import CLAIMED, FINAL, ImageRecord, output_key
from vehicle_photos.image_common.sealed import seal, unseal


def claim(identity: str = "s3://b/k.jpg#etag=1", owner: str = "dag/run/task/-1") -> ImageRecord:
    return ImageRecord("carcutter", identity, {"cut_type": "complete"}, CLAIMED, owner=owner, claimed_at=time.time())


def test_one_claim_wins_among_many_writers(moto_s3, bucket):
    store = ImageRecordStore(bucket)
    won: list[str] = []

    def write(owner: str) -> None:
        if store.create(claim(owner=owner)) is not None:
            won.append(owner)

    threads = [threading.Thread(target=write, args=(f"run-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert store.get("carcutter", claim().digest).record.owner == won[0]


def test_changes_are_conditional_on_the_version_read(moto_s3, bucket):
    store = ImageRecordStore(bucket)
    first = store.create(claim())
    final = store.replace(first, first.record.touched(status=FINAL, outputs={"result": "s3://b/out.jpg"}))
    with pytest.raises(RecordChangedError):
        store.replace(first, first.record.touched(status=CLAIMED, owner="late"))  # an outdated writer
    assert not store.delete(first)
    assert store.get("carcutter", first.record.digest).record.is_final
    assert store.delete(final) and store.get("carcutter", first.record.digest) is None


def test_a_claim_is_taken_over_only_by_its_holder_or_once_stale():
    holder = ClaimHolder("dag/run/task/-1", try_number=2)
    assert holder.may_take_over(claim(owner="dag/run/task/-1"), lease_seconds=600)  # an earlier try of mine
    assert not holder.may_take_over(claim(owner="dag/other/task/-1"), lease_seconds=600)
    stale = claim(owner="dag/other/task/-1")
    stale.claimed_at = time.time() - 601
    assert holder.may_take_over(stale, lease_seconds=600)


def test_the_index_answers_for_final_records_in_bulk(moto_s3, bucket):
    index = RecordIndex(ImageRecordStore(bucket), "carcutter")
    finals = [claim(f"s3://b/{n}.jpg#etag=1").touched(status=FINAL, outputs={"result": f"s3://b/o{n}"})
              for n in range(70)]  # fmt: skip
    for start in range(0, 70, 1):
        index.append(finals[start : start + 1])  # 70 segments: more than compaction waits for
    index.append([claim("s3://b/unfinished.jpg#etag=1")])  # claims are never indexed
    assert set(index.load()) == {record.digest for record in finals}
    assert index.compact()
    assert {digest: r.outputs for digest, r in index.load().items()} == {r.digest: r.outputs for r in finals}


def test_sealed_urls_and_output_keys():
    url = "http://127.0.0.1:8600/bucket/key.jpg?X-Amz-Signature=abc"
    assert unseal(seal(url)) == url and "Signature" not in seal(url)
    key = output_key("processed/", "VIN", "carcutter", "00-front", "0123456789abcdef0123", ".jpg")
    assert key == "processed/VIN/carcutter/00-front-0123456789abcdef.jpg"
