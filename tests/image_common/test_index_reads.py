"""The record index read while a compaction merges and deletes its segments (moto's S3 server): a read is
complete or it fails, never silently partial."""

from __future__ import annotations

import threading

from vehicle_photos.image_common.record_index import RecordIndex
from vehicle_photos.image_common.record_store import ImageRecordStore
from vehicle_photos.image_common.records import ImageRecord
from vehicle_photos.image_common.statuses import RecordStatus

SEGMENTS = 70  # more than a compaction waits for


def indexed_finals(bucket: str) -> list[ImageRecord]:
    index = RecordIndex(ImageRecordStore(bucket), "carcutter")
    finals = [
        ImageRecord(
            "carcutter",
            f"s3://b/{n}.jpg#etag=1",
            {"cut_type": "complete"},
            RecordStatus.FINAL,
            outputs={"result": f"o{n}"},
        )
        for n in range(SEGMENTS)
    ]
    for record in finals:
        index.append([record])  # one segment each
    return finals


def test_a_read_during_a_compaction_sees_every_entry(moto_s3, bucket):
    finals = indexed_finals(bucket)
    reader = RecordIndex(ImageRecordStore(bucket), "carcutter")
    compactor = RecordIndex(ImageRecordStore(bucket), "carcutter")
    compacted = threading.Event()
    lock = threading.Lock()

    def compact_before_the_first_read(**_: object) -> None:
        # the reader has listed the segments; a compaction (another worker) merges and deletes them now
        with lock:
            if not compacted.is_set():
                assert compactor.compact()
                compacted.set()

    reader.segments.client.meta.events.register("before-call.s3.GetObject", compact_before_the_first_read)
    loaded = reader.load()
    assert compacted.is_set()
    assert set(loaded) == {record.digest for record in finals}  # old code: the deleted segments were skipped
