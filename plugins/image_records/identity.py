"""Stable image identities: the same picture gets the same identity on every run and every date."""

from __future__ import annotations

import hashlib
import posixpath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import requests
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

_HASH_CHUNK = 1024 * 1024
_LIST_PAGE = 1000


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key)."""
    parts = urlsplit(uri)
    return parts.netloc, parts.path.lstrip("/")


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


def listed_s3_identities(s3_client: Any, uris: list[str]) -> dict[str, str]:
    """Identities of objects in ONE folder read from its listing (one request per 1,000 objects instead of
    a HEAD per object), in the format of `s3_image_identity`. Objects not listed within
    a few pages are left out: the caller falls back to `s3_image_identity` for them."""
    bucket, first_key = split_s3_uri(uris[0])
    folder = posixpath.dirname(first_key)
    wanted = {split_s3_uri(uri)[1] for uri in uris}
    found: dict[str, str] = {}
    pages = s3_client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{folder}/" if folder else "", Delimiter="/"
    )
    for number, page in enumerate(pages, start=1):
        for listed in page.get("Contents", []):
            if listed["Key"] in wanted:
                uri = f"s3://{bucket}/{listed['Key']}"
                found[uri] = f"{uri}#etag={listed['ETag'].strip(chr(34))}"
        if len(found) == len(wanted) or number >= len(wanted) // _LIST_PAGE + 2:
            break
    return found


def s3_folder(uri: str) -> tuple[str, str]:
    bucket, key = split_s3_uri(uri)
    return bucket, posixpath.dirname(key)
