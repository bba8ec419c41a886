"""Image records as JSON objects in S3 (`<prefix>/<provider>/<digest>.json`), written conditionally:
`create` succeeds for exactly one writer (`If-None-Match: *`), `replace` and `delete` only if the record is
still the version the caller read (`If-Match: <etag>`). That is what makes a claim a claim: whatever runs at
the same time, one of them holds it.

Every answer also carries S3's own clock: when the version read was written (`LastModified`) and when it was
read (the answer's `Date`), so the age of a claim is judged without comparing two workers' clocks."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from vehicle_photos.image_common.records import ImageRecord
from vehicle_photos.image_common.s3_objects import (
    ObjectChangedError,
    ObjectGoneError,
    create_object,
    delete_object,
    get_if_exists,
    replace_object,
)


class RecordChangedError(Exception):
    """Someone else wrote the record since it was read: read it again and follow what it says now."""


class RecordGoneError(RecordChangedError):
    """The record was removed since it was read (a claim given back): read it again, i.e. find none."""


@dataclass(frozen=True)
class StoredRecord:
    record: ImageRecord
    etag: str
    written_at: float | None = None  # epoch seconds by S3's clock: this version's LastModified
    seen_at: float | None = None  # epoch seconds by S3's clock: when it answered with this version

    @property
    def age(self) -> float | None:
        """How old this version was when S3 answered, by S3's clock (one-second resolution)."""
        if self.written_at is None or self.seen_at is None:
            return None
        return max(0.0, self.seen_at - self.written_at)


class ImageRecordStore:
    def __init__(
        self, bucket: str, prefix: str = "records", aws_conn_id: str | None = "aws_default", max_connections: int = 16
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.hook = S3Hook(aws_conn_id=aws_conn_id, config={"max_pool_connections": max(10, max_connections)})

    @property
    def client(self) -> Any:
        return self.hook.conn

    def key(self, provider: str, digest: str) -> str:
        return f"{self.prefix}/{provider}/{digest}.json"

    def get(self, provider: str, digest: str) -> StoredRecord | None:
        answer = get_if_exists(self.client, self.bucket, self.key(provider, digest))
        if answer is None:
            return None
        modified = answer.get("LastModified")
        return StoredRecord(
            ImageRecord.from_json(answer["Body"].read()), answer["ETag"],
            modified.timestamp() if modified else None, _answered_at(answer),
        )  # fmt: skip

    def create(self, record: ImageRecord) -> StoredRecord | None:
        """Write the record only if none exists; None when another writer got there first."""
        key = self.key(record.provider, record.digest)
        answer = create_object(self.client, self.bucket, key, record.to_json(), "application/json")
        return None if answer is None else _written(record, answer)

    def replace(self, stored: StoredRecord, record: ImageRecord) -> StoredRecord:
        """Overwrite the version that was read; RecordChangedError if it changed meanwhile, RecordGoneError if it
        was removed."""
        key = self.key(record.provider, record.digest)
        try:
            answer = replace_object(self.client, self.bucket, key, record.to_json(), "application/json", stored.etag)
        except ObjectGoneError:
            raise RecordGoneError(f"record {key} was removed") from None
        except ObjectChangedError:
            raise RecordChangedError(f"record {key} changed") from None
        return _written(record, answer)

    def delete(self, stored: StoredRecord) -> bool:
        """Remove the version that was read (a claim given back before anything was billed); False if it
        changed or was removed meanwhile."""
        key = self.key(stored.record.provider, stored.record.digest)
        return delete_object(self.client, self.bucket, key, stored.etag, gone=False)


def _written(record: ImageRecord, answer: dict[str, Any]) -> StoredRecord:
    """The version a PUT wrote: S3 answers a PUT without LastModified, and its Date is when it was written."""
    written = _answered_at(answer)
    return StoredRecord(record, answer["ETag"], written, written)


def _answered_at(answer: dict[str, Any]) -> float | None:
    date = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    try:
        return parsedate_to_datetime(date).timestamp() if date else None
    except (TypeError, ValueError):
        return None
