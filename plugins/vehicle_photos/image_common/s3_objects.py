"""Conditional S3 writes and the error codes they answer with: the one place that knows them.

- `create_object`: write only if the key does not exist (`If-None-Match: *`); False when it does. Outputs
  are written this way, so no run, retry or take-over overwrites what another one stored.
- `replace_object` / `delete_object`: only the version that was read (`If-Match: <etag>`).
- `copy_if_unchanged`: a server-side copy of the source version with a known ETag (`x-amz-copy-source-if-match`).
- `is_not_found` / `is_precondition_failed`: what a botocore error means, whatever the S3 implementation calls it.
"""

from __future__ import annotations

from typing import IO, Any

_PRECONDITION_FAILED = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})
_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})


class ObjectChangedError(Exception):
    """The object is not the version the caller read (or is gone)."""


def error_code(error: BaseException) -> str:
    """S3's error code, else the HTTP status as text; "" for errors that are not S3 answers."""
    response = getattr(error, "response", None) or {}
    code = response.get("Error", {}).get("Code") or response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(code or "")


def is_not_found(error: BaseException) -> bool:
    return error_code(error) in _NOT_FOUND


def is_precondition_failed(error: BaseException) -> bool:
    return error_code(error) in _PRECONDITION_FAILED


def create_object(
    client: Any, bucket: str, key: str, body: bytes | IO[bytes], content_type: str, **extra: Any
) -> str | None:
    """Write `key` only if it does not exist: its new ETag, or None when it existed already."""
    try:
        answer = client.put_object(
            Bucket=bucket, Key=key, Body=body, ContentType=content_type, IfNoneMatch="*", **extra
        )
    except Exception as error:
        if is_precondition_failed(error):
            return None
        raise
    return answer["ETag"]


def replace_object(client: Any, bucket: str, key: str, body: bytes | IO[bytes], content_type: str, etag: str) -> str:
    """Overwrite the version whose ETag is `etag`; its new ETag. ObjectChangedError if it changed meanwhile."""
    try:
        answer = client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, IfMatch=etag)
    except Exception as error:
        if is_precondition_failed(error) or is_not_found(error):
            raise ObjectChangedError(f"s3://{bucket}/{key} changed since it was read") from None
        raise
    return answer["ETag"]


def delete_object(client: Any, bucket: str, key: str, etag: str | None = None) -> bool:
    """Remove `key` (only the version `etag` when given); False if it changed meanwhile. A key that is gone
    already counts as removed."""
    try:
        client.delete_object(Bucket=bucket, Key=key, **({"IfMatch": etag} if etag else {}))
    except Exception as error:
        if is_not_found(error):
            return True
        if is_precondition_failed(error):
            return False
        raise
    return True


def copy_if_unchanged(client: Any, source_bucket: str, source_key: str, etag: str, bucket: str, key: str) -> bool:
    """Copy the source to `bucket/key` (server side, one request) only if its ETag is still `etag`; False when
    the source changed or is gone."""
    try:
        client.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": source_bucket, "Key": source_key},
            CopySourceIfMatch=etag if etag.startswith('"') else f'"{etag}"',
        )
    except Exception as error:
        if is_precondition_failed(error) or is_not_found(error):
            return False
        raise
    return True
