"""The date's listing files on moto's S3 server: found in the incoming prefix and the archive alike, archived
only in the version that was planned, never overwriting an archived file."""

from __future__ import annotations

import time

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from include.pipeline.listing_files import archive_listing_files, find_listing_objects, read_listing_files
from include.pipeline.settings import PipelineSettings

DS = "2026-11-05"


def settings_for(bucket: str) -> PipelineSettings:
    return PipelineSettings(bucket=bucket, listing_date=DS, run_key="run")


def keys(s3_client, bucket: str, prefix: str) -> list[str]:
    return sorted(item["Key"] for item in s3_client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def test_a_rerun_sees_archived_and_late_files_in_upload_order(moto_s3, s3_client, bucket):
    settings, hook = settings_for(bucket), S3Hook()
    s3_client.put_object(Bucket=bucket, Key=f"listings/dt={DS}/a.csv", Body=b"first")
    archive_listing_files(hook, settings, find_listing_objects(hook, settings))
    time.sleep(1.1)  # S3 times have one-second resolution
    s3_client.put_object(Bucket=bucket, Key=f"listings/dt={DS}/b.csv", Body=b"late")
    s3_client.put_object(Bucket=bucket, Key=f"listings/dt={DS}/folder/", Body=b"")  # a folder marker
    found = find_listing_objects(hook, settings)
    assert [(obj.name, obj.archived) for obj in found] == [("a.csv", True), ("b.csv", False)]
    files, too_big = read_listing_files(hook, bucket, found, max_bytes=4)
    assert [f.content for f in files] == [b"late"]
    assert [(row.file, row.line) for row in too_big] == [(f"archive/dt={DS}/a.csv", None)]
    assert "over the 4-byte limit" in too_big[0].reason


def test_archiving_moves_only_the_planned_version_and_keeps_other_versions(moto_s3, s3_client, bucket):
    settings, hook = settings_for(bucket), S3Hook()
    s3_client.put_object(Bucket=bucket, Key=f"listings/dt={DS}/v.csv", Body=b"version 1")
    planned = find_listing_objects(hook, settings)
    s3_client.put_object(Bucket=bucket, Key=f"listings/dt={DS}/v.csv", Body=b"version 2")  # replaced meanwhile
    assert archive_listing_files(hook, settings, planned) == []
    assert keys(s3_client, bucket, f"listings/dt={DS}/") == [f"listings/dt={DS}/v.csv"]  # left for the next run

    replanned = find_listing_objects(hook, settings)
    assert archive_listing_files(hook, settings, replanned) == [f"s3://{bucket}/archive/dt={DS}/v.csv"]
    s3_client.put_object(Bucket=bucket, Key=f"listings/dt={DS}/v.csv", Body=b"version 3")  # a new export
    incoming = [obj for obj in find_listing_objects(hook, settings) if not obj.archived]
    archived = archive_listing_files(hook, settings, incoming)
    assert len(archived) == 1 and archived[0] != f"s3://{bucket}/archive/dt={DS}/v.csv"
    bodies = {key: s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
              for key in keys(s3_client, bucket, f"archive/dt={DS}/")}  # fmt: skip
    assert sorted(bodies.values()) == [b"version 2", b"version 3"]  # nothing archived was overwritten
    assert archive_listing_files(hook, settings, replanned) == []  # a repeated archive is harmless
