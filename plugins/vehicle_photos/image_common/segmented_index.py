"""A key -> JSON entry index kept in S3 as append-only segments plus compacted bases.

`<prefix>` holds gzipped JSON Lines objects: `seg-*` written by whoever adds entries, `base-*` written by
compaction. Readers take the union of everything listed (a later object wins for the same key). Compaction
writes its base before deleting what it merged, so an object deleted under a reader means a newer base holds
its entries: the reader lists again and reads again until it reads every object it listed. A read is
therefore complete (every entry added before it started), or it fails after `READ_ATTEMPTS`; it is never
silently partial, which would make a planner count known images as new. Compaction reads the same way, so
it never writes a base that lacks what it deletes.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from vehicle_photos.image_common.s3_objects import delete_keys, list_objects, read_if_exists, write_object

COMPACT_AFTER_SEGMENTS = 64
READ_ATTEMPTS = 5  # list-and-read rounds before giving up; each lost round means a compaction finished meanwhile


class IndexChangingError(RuntimeError):
    """The index kept being compacted under a reader: no complete read was possible."""


class SegmentedIndex:
    def __init__(self, s3_client: Any, bucket: str, prefix: str, key_of: Callable[[dict[str, Any]], str]) -> None:
        self.client = s3_client
        self.bucket = bucket
        self.prefix = prefix.rstrip("/") + "/"
        self.key_of = key_of

    def load(self) -> dict[str, dict[str, Any]]:
        """Every entry, by key: a complete read (see the module's docstring)."""
        return self._read_all()[1]

    def append(self, entries: Iterable[dict[str, Any]]) -> str | None:
        """One new segment with `entries`; None when there was nothing to add."""
        entries = list(entries)
        if not entries:
            return None
        return self._write(f"{self.prefix}seg-{_stamp()}.jsonl.gz", entries)

    def compact(self, min_segments: int = COMPACT_AFTER_SEGMENTS) -> bool:
        """Merge everything into one base once there are `min_segments` segments."""
        if sum(1 for key in self._object_keys() if key.rsplit("/", 1)[-1].startswith("seg-")) < min_segments:
            return False
        keys, merged = self._read_all()
        self._write(f"{self.prefix}base-{_stamp()}.jsonl.gz", merged.values())
        delete_keys(self.client, self.bucket, keys)
        return True

    def _read_all(self) -> tuple[list[str], dict[str, dict[str, Any]]]:
        """(the objects read, their entries by key), from one listing whose every object could be read."""
        for _ in range(READ_ATTEMPTS):
            keys = self._object_keys()
            with ThreadPoolExecutor(max_workers=8) as pool:
                parts = list(pool.map(self._read, keys))
            if all(part is not None for part in parts):
                return keys, {self.key_of(entry): entry for part in parts for entry in part}
        raise IndexChangingError(
            f"s3://{self.bucket}/{self.prefix}: objects were deleted under {READ_ATTEMPTS} reads in a row"
        )

    def _object_keys(self) -> list[str]:
        keys = [listed.key for listed in list_objects(self.client, self.bucket, self.prefix)]
        return sorted(keys, key=lambda key: key.rsplit("/", 1)[-1].split("-", 1)[-1])  # oldest first

    def _read(self, key: str) -> list[dict[str, Any]] | None:
        """The object's entries; None when it was deleted (merged by a compaction) since it was listed."""
        body = read_if_exists(self.client, self.bucket, key)
        if body is None:
            return None
        return [json.loads(line) for line in gzip.decompress(body).splitlines() if line.strip()]

    def _write(self, key: str, entries: Iterable[dict[str, Any]]) -> str:
        lines = "".join(json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n" for entry in entries)
        body = gzip.compress(lines.encode(), compresslevel=5)
        write_object(self.client, self.bucket, key, body, "application/gzip")
        return key


def _stamp() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
