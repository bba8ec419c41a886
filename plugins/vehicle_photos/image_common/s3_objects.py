"""Every S3 request the package makes, and the error codes S3 answers with: the one place that knows them.

Callers pass the boto3 client of an S3Hook (`hook.conn`, created once per hook) or, in triggers, an
aiobotocore client. One request per call, never a HEAD before a write.

- `get_object` / `get_if_exists` / `read_object` / `read_if_exists` / `read_if_unchanged`: reads, of the
  version with a known ETag when `etag` is given; the `_if_exists` ones answer None for a missing key.
- `head_object` / `head_if_exists`: an object's metadata.
- `write_object`: an unconditional write, for objects that only their writer names (plans, batches, caches).
- `create_object`: write only if the key does not exist (`If-None-Match: *`); None when it does. Outputs
  are written this way, so no run, retry or take-over overwrites what another one stored.
- `replace_object` / `delete_object`: only the version that was read (`If-Match: <etag>`).
- `delete_keys`: many keys, 1000 per request.
- `copy_if_unchanged`: a server-side copy of the source version with a known ETag (`x-amz-copy-source-if-match`).
- `list_pages` / `list_objects`: a paged listing as `ListedObject`s (`list_objects_async` for triggers).
- `is_not_found` / `is_precondition_failed` / `is_invalid_range` / `error_text`: what a botocore error
  means, whatever the S3 implementation calls it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

DELETE_BATCH = 1000  # keys per DeleteObjects request, S3's limit

_PRECONDITION_FAILED = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})
_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})
_INVALID_RANGE = frozenset({"InvalidRange", "416"})
_ERROR_TEXTS = {
    "NoSuchBucket": "the bucket does not exist",
    "NoSuchKey": "no such object",
    "404": "no such object",
    "AccessDenied": "access denied",
    "403": "access denied",
    "PreconditionFailed": "changed after it was identified (a new upload of the key)",
    "412": "changed after it was identified (a new upload of the key)",
}


class ObjectChangedError(Exception):
    """The object is not the version the caller read (or is gone)."""


class ObjectGoneError(ObjectChangedError):
    """The object the caller read was removed since."""


class DeleteFailedError(Exception):
    """S3 refused to delete some of the keys of a DeleteObjects request."""


@dataclass(frozen=True)
class ListedObject:
    """One object of a listing."""

    key: str
    etag: str  # as S3 sends it, in quotes
    last_modified: datetime
    size: int


def error_code(error: BaseException) -> str:
    """S3's error code, else the HTTP status as text; "" for errors that are not S3 answers."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    code = response.get("Error", {}).get("Code") or response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(code or "")


def is_not_found(error: BaseException) -> bool:
    return error_code(error) in _NOT_FOUND


def is_precondition_failed(error: BaseException) -> bool:
    return error_code(error) in _PRECONDITION_FAILED


def is_invalid_range(error: BaseException) -> bool:
    """A range read past the end (an empty object has no byte 0)."""
    return error_code(error) in _INVALID_RANGE


def error_text(error: BaseException) -> str:
    """What went wrong, in words, for messages (never the request, which may carry a signed URL)."""
    code = error_code(error)
    if not code:
        return type(error).__name__
    return _ERROR_TEXTS.get(code, f"S3 error {code}")


def _quoted(etag: str) -> str:
    return etag if etag.startswith('"') else f'"{etag}"'


def _if_match(etag: str | None) -> dict[str, str]:
    return {"IfMatch": _quoted(etag)} if etag else {}


def get_object(client: Any, bucket: str, key: str, etag: str | None = None, **extra: Any) -> dict[str, Any]:
    """S3's GetObject answer (its `Body` is a stream); with `etag`, only that version (else PreconditionFailed)."""
    return client.get_object(Bucket=bucket, Key=key, **_if_match(etag), **extra)


def _unless_not_found(request: Callable[..., dict[str, Any]], **params: Any) -> dict[str, Any] | None:
    try:
        return request(**params)
    except Exception as error:
        if is_not_found(error):
            return None
        raise


def get_if_exists(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """S3's GetObject answer, or None when the key does not exist."""
    return _unless_not_found(client.get_object, Bucket=bucket, Key=key)


def read_object(client: Any, bucket: str, key: str, etag: str | None = None) -> bytes:
    return get_object(client, bucket, key, etag)["Body"].read()


def read_if_exists(client: Any, bucket: str, key: str) -> bytes | None:
    """The object's bytes, or None when the key does not exist."""
    answer = get_if_exists(client, bucket, key)
    return None if answer is None else answer["Body"].read()


def read_if_unchanged(client: Any, bucket: str, key: str, etag: str) -> bytes | None:
    """The bytes of the version `etag`; None when the key holds another version or is gone."""
    try:
        return read_object(client, bucket, key, etag)
    except Exception as error:
        if is_precondition_failed(error) or is_not_found(error):
            return None
        raise


def head_object(client: Any, bucket: str, key: str) -> dict[str, Any]:
    return client.head_object(Bucket=bucket, Key=key)


def head_if_exists(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """S3's HeadObject answer, or None when the key does not exist."""
    return _unless_not_found(client.head_object, Bucket=bucket, Key=key)


def write_object(
    client: Any, bucket: str, key: str, body: bytes | IO[bytes], content_type: str, **extra: Any
) -> dict[str, Any]:
    """Write `key` whatever it holds; S3's PutObject answer (`ETag`)."""
    return client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, **extra)


def create_object(
    client: Any, bucket: str, key: str, body: bytes | IO[bytes], content_type: str | None, **extra: Any
) -> dict[str, Any] | None:
    """Write `key` only if it does not exist: S3's PutObject answer (`ETag`), or None when it existed already."""
    typed = {"ContentType": content_type} if content_type else {}
    try:
        return client.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*", **typed, **extra)
    except Exception as error:
        if is_precondition_failed(error):
            return None
        raise


def replace_object(
    client: Any, bucket: str, key: str, body: bytes | IO[bytes], content_type: str, etag: str
) -> dict[str, Any]:
    """Overwrite the version whose ETag is `etag`: S3's PutObject answer (`ETag`). ObjectChangedError if it
    changed meanwhile, ObjectGoneError if it was removed."""
    try:
        return client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, IfMatch=etag)
    except Exception as error:
        if is_precondition_failed(error):
            raise ObjectChangedError(f"s3://{bucket}/{key} changed since it was read") from None
        if is_not_found(error):
            raise ObjectGoneError(f"s3://{bucket}/{key} was removed since it was read") from None
        raise


def delete_object(client: Any, bucket: str, key: str, etag: str | None = None, gone: bool = True) -> bool:
    """Remove `key` (only the version `etag` when given); False if it changed meanwhile. A key that is gone
    already answers `gone` (removed, by default)."""
    try:
        client.delete_object(Bucket=bucket, Key=key, **_if_match(etag))
    except Exception as error:
        if is_not_found(error):
            return gone
        if is_precondition_failed(error):
            return False
        raise
    return True


def delete_keys(client: Any, bucket: str, keys: Iterable[str]) -> None:
    """Remove every key (gone ones too), `DELETE_BATCH` per request; DeleteFailedError naming those S3 kept."""
    keys = list(keys)
    for start in range(0, len(keys), DELETE_BATCH):
        batch = [{"Key": key} for key in keys[start : start + DELETE_BATCH]]
        answer = client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        if answer.get("Errors"):
            kept = ", ".join(f"{error['Key']} ({error.get('Code')})" for error in answer["Errors"][:5])
            raise DeleteFailedError(f"s3://{bucket}: {len(answer['Errors'])} keys not deleted: {kept}")


def copy_if_unchanged(client: Any, source_bucket: str, source_key: str, etag: str, bucket: str, key: str) -> bool:
    """Copy the source to `bucket/key` (server side, one request) only if its ETag is still `etag`; False when
    the source changed or is gone."""
    try:
        client.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": source_bucket, "Key": source_key},
            CopySourceIfMatch=_quoted(etag),
        )
    except Exception as error:
        if is_precondition_failed(error) or is_not_found(error):
            return False
        raise
    return True


def _listed(item: dict[str, Any]) -> ListedObject:
    return ListedObject(item["Key"], item["ETag"], item["LastModified"], item["Size"])


def list_pages(client: Any, bucket: str, prefix: str, delimiter: str | None = None) -> Iterator[list[ListedObject]]:
    """The objects under `prefix` one page (one request) at a time; with `delimiter`, only those directly in it."""
    kwargs = {"Bucket": bucket, "Prefix": prefix, **({"Delimiter": delimiter} if delimiter else {})}
    for page in client.get_paginator("list_objects_v2").paginate(**kwargs):
        yield [_listed(item) for item in page.get("Contents", [])]


def list_objects(client: Any, bucket: str, prefix: str) -> Iterator[ListedObject]:
    """Every object under `prefix`, in key order."""
    for page in list_pages(client, bucket, prefix):
        yield from page


async def list_objects_async(client: Any, bucket: str, prefix: str) -> AsyncIterator[ListedObject]:
    """`list_objects` with an aiobotocore client."""
    async for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield _listed(item)


async def read_object_async(client: Any, bucket: str, key: str) -> bytes:
    """`read_object` with an aiobotocore client."""
    answer = await client.get_object(Bucket=bucket, Key=key)
    return await answer["Body"].read()


async def write_object_async(client: Any, bucket: str, key: str, body: bytes, content_type: str) -> dict[str, Any]:
    """`write_object` with an aiobotocore client."""
    return await client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
