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

from vehicle_photos.image_common.results import ImageResult, parse_results_jsonl, results_jsonl
from vehicle_photos.image_common.s3_objects import read_if_exists, read_object, write_object


def load_list(value: Any, s3_hook: S3Hook | None = None, what: str = "items") -> list[Any]:
    """A list given inline, as JSON text, or as the `s3://` URI of a JSON document holding the list."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("s3://"):
            bucket, key = S3Hook.parse_s3_url(text)
            text = read_object((s3_hook or S3Hook()).conn, bucket, key).decode()
        value = json.loads(text) if text else []
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise ValueError(f"{what} must be a list (inline, JSON text or an s3:// JSON document)")
    return list(value)


def put_bytes(s3_hook: S3Hook, uri: str, body: bytes, content_type: str) -> str:
    bucket, key = S3Hook.parse_s3_url(uri)
    write_object(s3_hook.conn, bucket, key, body, content_type)
    return uri


def put_json(s3_hook: S3Hook, uri: str, document: Any) -> str:
    body = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()
    return put_bytes(s3_hook, uri, body, "application/json")


def put_results(s3_hook: S3Hook, uri: str, results: Iterable[ImageResult]) -> str:
    return put_bytes(s3_hook, uri, results_jsonl(results), "application/x-ndjson")


def read_results(s3_hook: S3Hook, uri: str) -> list[ImageResult]:
    """The results a task wrote; none when it never got that far."""
    bucket, key = S3Hook.parse_s3_url(uri)
    body = read_if_exists(s3_hook.conn, bucket, key)
    return [] if body is None else parse_results_jsonl(body)
