"""The pipeline's reads and writes in the bucket (layout in the README): listing files in, rejected rows,
manifests, reports and the archive out. Everything goes through the Amazon provider's S3Hook."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from botocore.exceptions import ClientError

from image_records import split_s3_uri
from include.listings.load import FORMATS, ListingFile
from include.listings.validate import RejectedRow


class PipelineStorage:
    def __init__(self, bucket: str, aws_conn_id: str | None = "aws_default") -> None:
        self.bucket = bucket
        self.hook = S3Hook(aws_conn_id=aws_conn_id)

    def listing_keys(self, prefix: str) -> list[str]:
        """Listing files under a date prefix, oldest first (the duplicate rule depends on this order)."""
        client = self.hook.get_conn()
        objects = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            objects.extend(page.get("Contents", []))
        listing_objects = [o for o in objects if "." + o["Key"].rsplit(".", 1)[-1].lower() in FORMATS]
        return [o["Key"] for o in sorted(listing_objects, key=lambda o: (o["LastModified"], o["Key"]))]

    def read_listing_files(self, keys: Iterable[str]) -> list[ListingFile]:
        client = self.hook.get_conn()
        return [ListingFile(key, client.get_object(Bucket=self.bucket, Key=key)["Body"].read()) for key in keys]

    def read_uri(self, uri: str) -> bytes:
        bucket, key = split_s3_uri(uri)
        return self.hook.get_conn().get_object(Bucket=bucket, Key=key)["Body"].read()

    def read_jsonl(self, uri: str) -> list[Any]:
        return [json.loads(line) for line in self.read_uri(uri).decode().splitlines() if line.strip()]

    def put(self, key: str, body: bytes, content_type: str) -> str:
        self.hook.get_conn().put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
        return f"s3://{self.bucket}/{key}"

    def put_json(self, key: str, value: Any) -> str:
        return self.put(key, json.dumps(value, indent=1, sort_keys=True, default=str).encode(), "application/json")

    def get_json(self, key: str) -> Any:
        return json.loads(self.hook.get_conn().get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def write_rejected(self, prefix: str, rejected: list[RejectedRow]) -> str:
        """One JSON Lines file with every rejected row, its file, line and reason; rewritten by reruns."""
        body = "".join(json.dumps(row.to_dict(), sort_keys=True, default=str) + "\n" for row in rejected)
        return self.put(f"{prefix}rejected.jsonl", body.encode(), "application/x-ndjson")

    def archive(self, keys: Iterable[str], listings_prefix: str, archive_prefix: str) -> list[str]:
        """Move listing files from the date's listing prefix to its archive prefix (copy, then delete)."""
        client = self.hook.get_conn()
        archived = []
        for key in keys:
            target = archive_prefix + key.removeprefix(listings_prefix)
            try:
                client.copy_object(Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": key})
            except ClientError as error:  # moved by an earlier try of this task: already archived
                if error.response.get("Error", {}).get("Code") not in {"NoSuchKey", "404"}:
                    raise
            client.delete_object(Bucket=self.bucket, Key=key)
            archived.append(f"s3://{self.bucket}/{target}")
        return archived
