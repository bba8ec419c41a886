"""The listing files of a date, wherever they are: still incoming (`listings/dt=<date>/`) or already archived
(`archive/dt=<date>/`). Every run plans over both, so a rerun, or a run for files that arrived late, sees the
whole date and its manifest, report and rejected rows cover everything.

Archiving is conditional on the exact version that was planned: the copy is read with `If-Match: <etag>`,
written without overwriting anything (`If-None-Match: *`; another version of the same name is kept beside it
under a name with its ETag), and the incoming object is deleted only if it is still that version. A file
replaced while the run was working therefore stays in `listings/` for the next run. The archive copy keeps the
original upload time in its metadata, so the duplicate rule ("the latest file wins") still sees upload order.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from include.listings.load import ListingFile, is_listing_candidate
from include.listings.rejections import RejectedRow, oversized_file_rejection
from include.pipeline.settings import PipelineSettings
from vehicle_photos.image_common.s3_objects import (
    ListedObject,
    create_object,
    delete_object,
    list_objects,
    read_if_unchanged,
    read_object,
)

UPLOADED_AT_METADATA = "uploaded-at"  # S3 user metadata of archive copies: the original upload time
SOURCE_ETAG_METADATA = "source-etag"


@dataclass(frozen=True)
class ListingObject:
    key: str
    etag: str  # this object's own ETag (what conditional requests compare)
    size: int
    uploaded_at: str  # ISO time of the original upload
    archived: bool
    source_etag: str = ""  # for an archive copy: the ETag of the incoming file it was copied from

    @property
    def content_etag(self) -> str:
        return self.source_etag or self.etag

    @property
    def name(self) -> str:
        return posixpath.basename(self.key)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def find_listing_objects(s3_hook: S3Hook, settings: PipelineSettings) -> list[ListingObject]:
    """Every object of the date, oldest upload first; an archived copy of a file that is also still incoming
    (same name and content) counts once."""
    incoming = [_listed(item, archived=False) for item in _list(s3_hook, settings.bucket, settings.incoming_prefix)]
    archived_items = _list(s3_hook, settings.bucket, settings.archived_prefix)
    with ThreadPoolExecutor(max_workers=8) as pool:
        archived = list(pool.map(lambda item: _archived(s3_hook, settings.bucket, item), archived_items))
    incoming_versions = {(obj.name, obj.etag) for obj in incoming}
    archived = [obj for obj in archived if (_original_name(obj), obj.content_etag) not in incoming_versions]
    return sorted(incoming + archived, key=lambda obj: (obj.uploaded_at, obj.name, obj.key))


def read_listing_files(
    s3_hook: S3Hook, bucket: str, objects: list[ListingObject], max_bytes: int
) -> tuple[Iterator[ListingFile], list[RejectedRow]]:
    """The files' contents, read one at a time as the caller goes (only one file is in memory at once), and a
    rejection for each file over the size cap (never read)."""
    readable = [obj for obj in objects if obj.size <= max_bytes]
    too_big = [oversized_file_rejection(obj.key, obj.size, max_bytes) for obj in objects if obj.size > max_bytes]

    def files() -> Iterator[ListingFile]:
        for obj in readable:
            body = read_object(s3_hook.conn, bucket, obj.key, obj.etag)
            yield ListingFile(obj.key, body)

    return files(), too_big


def archive_listing_files(s3_hook: S3Hook, settings: PipelineSettings, objects: list[ListingObject]) -> list[str]:
    """Move the planned incoming files to the archive, each only if it is still the version planned."""
    archived = []
    for obj in (obj for obj in objects if not obj.archived):
        target = _archive_copy(s3_hook, settings, obj)
        if target is not None:
            archived.append(f"s3://{settings.bucket}/{target}")
    return archived


def _archive_copy(s3_hook: S3Hook, settings: PipelineSettings, obj: ListingObject) -> str | None:
    client = s3_hook.conn
    body = read_if_unchanged(client, settings.bucket, obj.key, obj.etag)
    if body is None:
        return None  # replaced since planning (the next run takes it) or moved by an earlier try
    metadata = {UPLOADED_AT_METADATA: obj.uploaded_at, SOURCE_ETAG_METADATA: obj.etag}
    target = settings.archived_prefix + obj.key.removeprefix(settings.incoming_prefix)
    for candidate in (target, _with_etag(target, obj.etag)):
        if create_object(client, settings.bucket, candidate, body, None, Metadata=metadata) is not None:
            break
        existing = (s3_hook.head_object(candidate, settings.bucket) or {}).get("Metadata", {})
        if existing.get(SOURCE_ETAG_METADATA) == obj.etag:
            break  # archived by an earlier try of this task
    else:
        raise RuntimeError(f"cannot archive {obj.key}: {target} and its versioned name hold other files")
    delete_object(client, settings.bucket, obj.key, obj.etag)  # False: replaced since; the next run takes it
    return candidate


def _list(s3_hook: S3Hook, bucket: str, prefix: str) -> list[ListedObject]:
    return [listed for listed in list_objects(s3_hook.conn, bucket, prefix) if is_listing_candidate(listed.key)]


def _listed(item: ListedObject, archived: bool) -> ListingObject:
    return ListingObject(item.key, item.etag, item.size, item.last_modified.isoformat(), archived)


def _archived(s3_hook: S3Hook, bucket: str, item: ListedObject) -> ListingObject:
    metadata = (s3_hook.head_object(item.key, bucket) or {}).get("Metadata", {})
    listed = _listed(item, archived=True)
    return replace(
        listed,
        uploaded_at=metadata.get(UPLOADED_AT_METADATA, listed.uploaded_at),
        source_etag=metadata.get(SOURCE_ETAG_METADATA, ""),
    )


def _original_name(obj: ListingObject) -> str:
    """An archive copy stored under its versioned name still stands for the original file name."""
    stem, extension = posixpath.splitext(obj.name)
    suffix = f".{obj.content_etag.strip(chr(34))[:12]}"
    return stem.removesuffix(suffix) + extension


def _with_etag(key: str, etag: str) -> str:
    stem, extension = posixpath.splitext(key)
    return f"{stem}.{etag.strip(chr(34))[:12]}{extension}"
