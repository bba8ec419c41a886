"""Writing outputs to S3 once: an output key is immutable per (identity, options), so it is written only if
absent (`If-None-Match: *`) and no take-over, retry or second run can overwrite what a manifest points at."""

from __future__ import annotations

from typing import IO, Any

_ALREADY_THERE = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


def put_new_object(s3_client: Any, bucket: str, key: str, file: IO[bytes], content_type: str | None) -> bool:
    """Store `file` (from its start) at `key` unless an object is there; returns whether it was written (False:
    the output was written before, by this image's earlier try or another run, and is kept)."""
    file.seek(0)
    try:
        s3_client.put_object(
            Bucket=bucket, Key=key, Body=file, ContentType=content_type or "application/octet-stream", IfNoneMatch="*"
        )
    except Exception as error:
        response = getattr(error, "response", None) or {}
        code = response.get("Error", {}).get("Code") or response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if str(code) in _ALREADY_THERE:
            return False
        raise
    return True
