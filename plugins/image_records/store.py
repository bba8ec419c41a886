"""Image records as JSON objects under one S3 prefix, readable by people and tools."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from botocore.exceptions import ClientError

from image_records.record import ImageRecord, options_digest

RecordKey = tuple[str, str]  # (identity, options digest)


class ImageRecordStore:
    """Reads and writes `s3://<bucket>/<prefix>/<provider>/<digest>.json`."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "records",
        aws_conn_id: str | None = "aws_default",
        max_workers: int = 16,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.aws_conn_id = aws_conn_id
        self.max_workers = max_workers
        self._client: Any = None
        self._client_lock = threading.Lock()

    @property
    def client(self) -> Any:
        """One S3 client for every thread, with a connection per worker (built once, under a lock)."""
        with self._client_lock:
            if self._client is None:
                config = {"max_pool_connections": max(10, self.max_workers + 4)}
                self._client = S3Hook(aws_conn_id=self.aws_conn_id, config=config).get_conn()
        return self._client

    def key_for(self, provider: str, identity: str, options: dict[str, Any]) -> str:
        return f"{self.prefix}/{provider}/{options_digest(identity, options)}.json"

    def get(self, provider: str, identity: str, options: dict[str, Any]) -> ImageRecord | None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key_for(provider, identity, options))["Body"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise
        return ImageRecord.from_json(body.read())

    def get_many(
        self, provider: str, wanted: Iterable[tuple[str, dict[str, Any]]]
    ) -> dict[RecordKey, ImageRecord]:
        """Records that exist for `(identity, options)` pairs, keyed by `(identity, options digest)`."""
        pairs = list(wanted)
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            found = pool.map(lambda pair: self.get(provider, pair[0], pair[1]), pairs)
            return {
                (identity, options_digest(identity, options)): record
                for (identity, options), record in zip(pairs, found, strict=True)
                if record is not None
            }

    def put(self, record: ImageRecord) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.key_for(record.provider, record.identity, record.options),
            Body=record.to_json().encode(),
            ContentType="application/json",
        )

    def put_many(self, records: Iterable[ImageRecord]) -> None:
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            list(pool.map(self.put, records))

    def iter_records(self, provider: str) -> Iterator[ImageRecord]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}/{provider}/"):
            for item in page.get("Contents", []):
                yield ImageRecord.from_json(self.client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read())
