"""Operator inputs and outputs given inline or as `s3://` JSON documents.

Mapped tasks must not pull large lists through XCom, so every list argument of the operators (images,
vehicles, features, annotations) may also be the URI of a JSON document in S3 holding that list, and the
per-image results of a batch go to an S3 object (`results_uri`) while XCom carries only counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from image_common.results import ImageResult, results_jsonl


def load_list(value: Any, s3_hook: S3Hook | None = None, what: str = "items") -> list[Any]:
    """A list given inline, as JSON text, or as the `s3://` URI of a JSON document holding the list."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("s3://"):
            bucket, key = S3Hook.parse_s3_url(text)
            text = (s3_hook or S3Hook()).read_key(key, bucket)
        value = json.loads(text) if text else []
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise ValueError(f"{what} must be a list (inline, JSON text or an s3:// JSON document)")
    return list(value)


def put_json(s3_hook: S3Hook, uri: str, document: Any) -> str:
    bucket, key = S3Hook.parse_s3_url(uri)
    body = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()
    s3_hook.conn.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    return uri


def put_results(s3_hook: S3Hook, uri: str, results: Iterable[ImageResult]) -> str:
    bucket, key = S3Hook.parse_s3_url(uri)
    s3_hook.conn.put_object(Bucket=bucket, Key=key, Body=results_jsonl(results), ContentType="application/x-ndjson")
    return uri
