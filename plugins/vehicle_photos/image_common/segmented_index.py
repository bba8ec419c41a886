"""A key -> JSON entry index kept in S3 as append-only segments plus compacted bases.

`<prefix>` holds gzipped JSON Lines objects: `seg-*` written by whoever adds entries, `base-*` written by
compaction. Readers take the union of everything listed (a later object wins for the same key). Compaction
writes its base before deleting what it merged and readers skip objects deleted under them, so an entry may
briefly be missing from a read, but a read never returns an entry nobody wrote. Callers treat a miss as
"look it up the slow way", never as an answer.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

COMPACT_AFTER_SEGMENTS = 64


class SegmentedIndex:
    def __init__(self, s3_client: Any, bucket: str, prefix: str, key_of: Callable[[dict[str, Any]], str]) -> None:
        self.client = s3_client
        self.bucket = bucket
        self.prefix = prefix.rstrip("/") + "/"
        self.key_of = key_of

    def load(self) -> dict[str, dict[str, Any]]:
        keys = self._object_keys()
        with ThreadPoolExecutor(max_workers=8) as pool:
            parts = list(pool.map(self._read, keys))
        return {self.key_of(entry): entry for part in parts for entry in part}

    def append(self, entries: Iterable[dict[str, Any]]) -> str | None:
        """One new segment with `entries`; None when there was nothing to add."""
        entries = list(entries)
        if not entries:
            return None
        return self._write(f"{self.prefix}seg-{_stamp()}.jsonl.gz", entries)

    def compact(self, min_segments: int = COMPACT_AFTER_SEGMENTS) -> bool:
        """Merge everything into one base once there are `min_segments` segments."""
        keys = self._object_keys()
        if sum(1 for key in keys if key.rsplit("/", 1)[-1].startswith("seg-")) < min_segments:
            return False
        with ThreadPoolExecutor(max_workers=8) as pool:
            merged = {self.key_of(entry): entry for part in pool.map(self._read, keys) for entry in part}
        self._write(f"{self.prefix}base-{_stamp()}.jsonl.gz", merged.values())
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        return True

    def _object_keys(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        return sorted(keys, key=lambda key: key.rsplit("/", 1)[-1].split("-", 1)[-1])  # oldest first

    def _read(self, key: str) -> list[dict[str, Any]]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except Exception as error:  # merged and deleted by a compaction since it was listed
            if getattr(error, "response", {}).get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return []
            raise
        return [json.loads(line) for line in gzip.decompress(body).splitlines() if line.strip()]

    def _write(self, key: str, entries: Iterable[dict[str, Any]]) -> str:
        lines = "".join(json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n" for entry in entries)
        body = gzip.compress(lines.encode(), compresslevel=5)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/gzip")
        return key


def _stamp() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
