"""Stable image identities: the same picture gets the same identity on every run and every date.

- S3 objects: `s3://bucket/key#etag=<etag>`, read from bucket listings (one request per 1,000 objects)
  rather than a HEAD per object; a new upload of the key is a new identity.
- http(s) URLs: the URL without its query string, a digest of the query's lasting parameters when it has
  any, and the server's ETag or Last-Modified; a URL whose server gives neither is identified by a hash of its
  content (`sha256:<hex>`), computed where it is downloaded. The query counts (`img.aspx?id=1` and `?id=2`
  are two pictures) but only as a digest, never as text (it may carry a dealer's token), and without its
  volatile parameters (signatures, expiry times: `volatile_query_params`), which change on every signing.
"""

from __future__ import annotations

import hashlib
import math
import posixpath
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from vehicle_photos.image_common.s3_objects import error_text, head_if_exists, list_pages
from vehicle_photos.image_common.sources import ImageSource

LIST_PAGE = 1000
# Query parameters that change on every signing of the same URL (AWS, CloudFront, Google Cloud, Azure SAS)
# or carry a session token: matched case-insensitively, `*` as a wildcard.
DEFAULT_VOLATILE_QUERY_PARAMS = (
    "X-Amz-*", "X-Goog-*", "AWSAccessKeyId", "Signature", "Expires", "Policy", "Key-Pair-Id", "token",
    "access_token", "sig", "se", "st",
)  # fmt: skip


def s3_identity(bucket: str, key: str, etag: str) -> str:
    return f"s3://{bucket}/{key}#etag={etag.strip(chr(34))}"


def s3_identity_etag(identity: str) -> str | None:
    """The ETag an `s3_identity` names; None for any other identity."""
    if not identity.startswith("s3://") or "#etag=" not in identity:
        return None
    return identity.rpartition("#etag=")[2]


def http_identity(url: str, headers: dict[str, str], *, volatile_params: Iterable[str]) -> str | None:
    """From a HEAD answer's validators (lower-case header names); None when the server gives neither.
    `volatile_params`: query parameters that do not count (`DEFAULT_VOLATILE_QUERY_PARAMS`)."""
    if etag := headers.get("etag"):
        return f"{url_without_query(url)}{query_part(url, volatile_params)}#etag={etag.strip(chr(34))}"
    if last_modified := headers.get("last-modified"):
        return f"{url_without_query(url)}{query_part(url, volatile_params)}#last-modified={last_modified}"
    return None


def query_part(url: str, volatile_params: Iterable[str]) -> str:
    """`#query=<digest>` of the query's lasting parameters (sorted, so their order does not count), or "" when
    there are none: a URL without a query, or with only volatile ones, keeps the identity it always had."""
    patterns = [pattern.lower() for pattern in volatile_params]
    lasting = sorted(
        (name, value)
        for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True)
        if not any(fnmatchcase(name.lower(), pattern) for pattern in patterns)
    )
    if not lasting:
        return ""
    return f"#query={hashlib.sha256(urlencode(lasting).encode()).hexdigest()[:32]}"


def content_identity(sha256_hex: str) -> str:
    return f"sha256:{sha256_hex}"


def url_without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def s3_identities(
    s3_client: Any, sources: Iterable[ImageSource], max_workers: int = 16
) -> tuple[dict[str, str], dict[str, str]]:
    """Identities of S3 sources, `({uri: identity}, {uri: reason it failed})`.

    Per bucket: one listing under the keys' common prefix while it pays off (a page budget proportional to the
    number of keys), then per-folder listings for keys still missing, then a HEAD for the rest. A bucket that
    does not exist or cannot be read fails only its own sources."""
    by_bucket: dict[str, set[str]] = defaultdict(set)
    for source in sources:
        by_bucket[source.bucket].add(source.key)
    found: dict[str, str] = {}
    failed: dict[str, str] = {}
    for bucket, keys in by_bucket.items():
        try:
            listed = _listed(s3_client, bucket, keys)
        except Exception as error:  # NoSuchBucket, AccessDenied...: only this bucket's images fail
            failed.update((f"s3://{bucket}/{key}", error_text(error)) for key in keys)
            continue
        found.update((f"s3://{bucket}/{key}", identity) for key, identity in listed.items())
        missing = sorted(keys - listed.keys())
        with ThreadPoolExecutor(max_workers=max_workers) as pool:
            outcomes = list(pool.map(_head, [s3_client] * len(missing), [bucket] * len(missing), missing))
        for key, (ok, value) in zip(missing, outcomes, strict=True):
            (found if ok else failed)[f"s3://{bucket}/{key}"] = value
    return found, failed


def _listed(s3_client: Any, bucket: str, keys: set[str]) -> dict[str, str]:
    prefix = posixpath.commonprefix(sorted(keys))
    prefix = prefix[: prefix.rfind("/") + 1]
    found = _list_under(s3_client, bucket, keys, prefix, delimiter=None)
    by_folder: dict[str, set[str]] = defaultdict(set)
    for key in keys - found.keys():
        by_folder[posixpath.dirname(key)].add(key)
    if len(by_folder) > 1 or (by_folder and prefix != _folder_prefix(next(iter(by_folder)))):
        for folder, folder_keys in by_folder.items():
            found.update(_list_under(s3_client, bucket, folder_keys, _folder_prefix(folder), delimiter="/"))
    return found


def _list_under(s3_client: Any, bucket: str, wanted: set[str], prefix: str, delimiter: str | None) -> dict[str, str]:
    found: dict[str, str] = {}
    budget = 2 * math.ceil(len(wanted) / LIST_PAGE) + 2
    for number, page in enumerate(list_pages(s3_client, bucket, prefix, delimiter), start=1):
        for listed in page:
            if listed.key in wanted:
                found[listed.key] = s3_identity(bucket, listed.key, listed.etag)
        if len(found) == len(wanted) or number >= budget:
            break
    return found


def _head(s3_client: Any, bucket: str, key: str) -> tuple[bool, str]:
    try:
        head = head_if_exists(s3_client, bucket, key)
    except Exception as error:
        return False, error_text(error)
    if head is None:
        return False, "no such object"
    return True, s3_identity(bucket, key, head["ETag"])


def _folder_prefix(folder: str) -> str:
    return f"{folder}/" if folder else ""
