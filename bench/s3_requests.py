"""S3 requests between two points of a workload, counted from moto's access log.

moto's server logs one werkzeug line per request it answered (`"GET /bucket/key?query HTTP/1.1" 200 -`) into the
stack's `<log_dir>/s3.log`. A mark is the log's size in bytes; counting reads the complete lines written between
two marks and keeps those addressed to one bucket (path-style addressing, as boto3 uses for an IP endpoint).
Only counts leave this module: the lines themselves hold presigned URLs.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

REQUEST_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[\d.]+" (?P<status>\d{3})')
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # werkzeug colours 4xx/5xx lines even in a file
PRESIGNED_QUERY = ("X-Amz-Signature", "Signature")


@dataclass
class S3Requests:
    total: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)  # GET, PUT, HEAD, LIST, presigned GET, ...
    by_folder: dict[str, int] = field(default_factory=dict)  # the key's first folder: records, processed, ...
    by_operation_and_folder: dict[str, int] = field(default_factory=dict)  # "GET records", "LIST bench", ...
    errors: int = 0  # answered with a status >= 400 (404s of record lookups among them)

    def minus(self, other: S3Requests) -> dict[str, int]:
        """Requests per operation that this count has beyond `other` (negative where it has fewer)."""
        return {
            op: self.by_operation.get(op, 0) - other.by_operation.get(op, 0)
            for op in sorted({*self.by_operation, *other.by_operation})
        }


def operation(method: str, key: str, query: dict[str, list[str]]) -> str:
    if any(name in query for name in PRESIGNED_QUERY):
        return f"presigned {method}"
    if method == "GET" and not key:
        return "LIST"
    if method == "POST" and "delete" in query:
        return "DELETE (batch)"
    return method  # a copy is a PUT too: its source travels in a header, which the log does not show


def top_folder(key: str, query: dict[str, list[str]]) -> str:
    """`records` for `records/carcutter/x.json`, and for a listing of prefix `records/...`."""
    path = key or query.get("prefix", [""])[0]
    return path.split("/", 1)[0] if "/" in path else (path or "(bucket)")


class S3RequestLog:
    def __init__(self, path: Path, bucket: str) -> None:
        self.path = path
        self.bucket = bucket

    def mark(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def count(self, start: int, end: int) -> S3Requests:
        """Requests to the bucket logged between two marks."""
        with self.path.open("rb") as log:
            log.seek(start)
            text = log.read(max(0, end - start)).decode(errors="replace")
        operations: Counter[str] = Counter()
        folders: Counter[str] = Counter()
        both: Counter[str] = Counter()
        errors = 0
        for line in text[: text.rfind("\n") + 1].splitlines():
            found = REQUEST_LINE.search(ANSI_ESCAPE.sub("", line))
            if not found:
                continue
            target = urlsplit(found["target"])
            bucket, _, key = unquote(target.path).lstrip("/").partition("/")
            if bucket != self.bucket:
                continue
            query = parse_qs(target.query, keep_blank_values=True)
            name, folder = operation(found["method"], key, query), top_folder(key, query)
            operations[name] += 1
            folders[folder] += 1
            both[f"{name} {folder}"] += 1
            errors += int(found["status"]) >= 400
        return S3Requests(sum(operations.values()), dict(operations), dict(folders), dict(both), errors)
