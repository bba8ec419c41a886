"""Stable image identities: the same picture gets the same identity on every run and every date."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

_HASH_CHUNK = 1024 * 1024


def s3_image_identity(s3_hook: S3Hook, bucket: str, key: str) -> str:
    """`s3://bucket/key#etag=...`: a new upload of the key gets a new identity."""
    head = s3_hook.get_conn().head_object(Bucket=bucket, Key=key)
    return f"s3://{bucket}/{key}#etag={head['ETag'].strip(chr(34))}"


def url_image_identity(url: str, session: requests.Session, timeout: float = 30.0) -> str:
    """The URL with its ETag or Last-Modified when the server gives them, else a hash of the content."""
    response = session.head(url, allow_redirects=True, timeout=timeout)
    if response.ok:
        if etag := response.headers.get("ETag"):
            return f"{url}#etag={etag.strip(chr(34))}"
        if last_modified := response.headers.get("Last-Modified"):
            return f"{url}#last-modified={last_modified}"
    digest = hashlib.sha256()
    with session.get(url, stream=True, timeout=timeout) as body:
        body.raise_for_status()
        for chunk in body.iter_content(_HASH_CHUNK):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"
