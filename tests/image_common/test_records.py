"""Image records on moto's S3 server: a claim is held by exactly one writer, changes are conditional on the
version read, and the index of final records answers in bulk."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import datetime

import pytest

from vehicle_photos.image_common.claims import ClaimHolder, ClaimLostError, LeaseKeeper, lease_end_shown
from vehicle_photos.image_common.record_index import RecordIndex
from vehicle_photos.image_common.record_store import (
    ImageRecordStore,
    RecordChangedError,
    RecordGoneError,
    StoredRecord,
)
from vehicle_photos.image_common.records import ImageRecord, output_key
from vehicle_photos.image_common.sealed import seal, unseal
from vehicle_photos.image_common.statuses import RecordStatus


def claim(identity: str = "s3://b/k.jpg#etag=1", owner: str = "dag/run/task/-1") -> ImageRecord:
    return ImageRecord(
        "carcutter", identity, {"cut_type": "complete"}, RecordStatus.CLAIMED, owner=owner, claimed_at=time.time()
    )


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
    final = store.replace(first, first.record.touched(status=RecordStatus.FINAL, outputs={"result": "s3://b/out.jpg"}))
    with pytest.raises(RecordChangedError):
        store.replace(first, first.record.touched(status=RecordStatus.CLAIMED, owner="late"))  # an outdated writer
    assert not store.delete(first)
    assert store.get("carcutter", first.record.digest).record.is_final
    assert store.delete(final) and store.get("carcutter", first.record.digest) is None


def test_a_claim_is_taken_over_only_by_its_task_instance_or_once_its_lease_ran_out_by_s3s_clock():
    holder = ClaimHolder("dag/run/task/-1", try_number=2)
    written = 1_800_000_000.0
    fresh = StoredRecord(claim(owner="dag/other/task/-1"), '"e"', written, written + 599)
    assert holder.may_take_over(StoredRecord(claim(owner="dag/run/task/-1"), '"e"', written, written), 600)
    assert not holder.may_take_over(fresh, 600)
    assert holder.may_take_over(StoredRecord(fresh.record, '"e"', written, written + 601), 600)
    # the holder's own promise wins over the reader's setting
    promised = dataclasses.replace(fresh.record, lease_seconds=60.0)
    assert holder.may_take_over(StoredRecord(promised, '"e"', written, written + 61), 600)


def test_lease_age_is_s3s_clock_not_the_holders(moto_s3, bucket):
    """A holder whose clock is an hour slow writes `claimed_at` an hour in the past: its claim is still young."""
    store = ImageRecordStore(bucket)
    skewed = dataclasses.replace(claim(owner="dag/other/task/-1"), claimed_at=time.time() - 3600)
    store.create(skewed)
    read = store.get("carcutter", skewed.digest)
    assert read.age is not None and read.age < 60
    assert not ClaimHolder("dag/run/task/-1").may_take_over(read, 600)
    shown_end = datetime.fromisoformat(lease_end_shown(read, 600)).timestamp()
    assert abs(shown_end - (read.written_at + 600)) <= 1, "the lease ends 600 s after its write, by S3's clock"


def test_a_write_over_a_record_given_back_meanwhile_raises_a_typed_error(moto_s3, bucket):
    store = ImageRecordStore(bucket)
    first = store.create(claim())
    assert store.delete(first)
    with pytest.raises(RecordGoneError):  # a 404 to If-Match: the claim was given back
        store.replace(first, first.record.touched(status=RecordStatus.FINAL))
    assert not store.delete(first)


def test_threads_of_one_holder_hold_its_claims_a_later_try_owns_them():
    first_try = ClaimHolder("dag/run/task/3", try_number=1)
    record = claim(owner=first_try.key).touched(**first_try.stamp(120))
    assert first_try.holds(record) and record.lease_seconds == 120.0
    second_try = ClaimHolder("dag/run/task/3", try_number=2)
    assert second_try.owns(record) and not second_try.holds(record)
    assert not ClaimHolder("dag/run/task/4").owns(record)


def test_a_kept_claim_is_renewed_while_its_holder_works_and_a_lost_one_fences_the_holder(moto_s3, bucket):
    store = ImageRecordStore(bucket)
    holder = ClaimHolder("dag/run/task/-1")
    created = store.create(claim().touched(**holder.stamp(1.5)))
    with LeaseKeeper(store, 1.5) as keeper:
        lease = keeper.keep(created)
        time.sleep(1.6)  # renewed at 0.5 s and 1 s: never as old as its lease
        current = store.get("carcutter", created.record.digest)
        assert current.record.lease_renewals >= 2 and current.etag == lease.stored.etag
        assert current.age is not None and current.age <= 1
        taker = ClaimHolder("dag/other/task/-1")
        take_over(store, current, taker)  # another run took it over
        time.sleep(0.2)  # a claim written under a tenth of its lease ago is trusted without a request
        with pytest.raises(ClaimLostError):
            keeper.ensure_held(lease)
        with pytest.raises(ClaimLostError):
            keeper.replace(lease, lease.record.touched(status=RecordStatus.FINAL))
    assert store.get("carcutter", created.record.digest).record.owner == taker.key


def take_over(store: ImageRecordStore, current: StoredRecord, taker: ClaimHolder) -> None:
    """Write the taker's claim over the holder's; a renewal that lands between the read and the write (on a
    loaded machine) makes it read again, as a real taker does."""
    for _ in range(20):
        try:
            store.replace(current, current.record.touched(**taker.stamp(1.5)))
            return
        except RecordChangedError:
            current = store.get("carcutter", current.record.digest)
    raise AssertionError("the holder's renewals never left room for a take-over")


def test_the_index_answers_for_final_records_in_bulk(moto_s3, bucket):
    index = RecordIndex(ImageRecordStore(bucket), "carcutter")
    finals = [claim(f"s3://b/{n}.jpg#etag=1").touched(status=RecordStatus.FINAL, outputs={"result": f"s3://b/o{n}"})
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
