"""The benchmark counts S3 requests from moto's access log: the counts must match what a client really sent."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from bench.s3_requests import S3RequestLog
from dev.stack import LocalStack


def test_counts_every_request_to_the_bucket_between_two_marks(local_stack: LocalStack, bucket: str) -> None:
    s3 = local_stack.s3_client()
    log = S3RequestLog(local_stack.settings.log_dir / "s3.log", bucket)
    other = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=other)
    s3.put_object(Bucket=bucket, Key="before/mark.json", Body=b"{}")  # before the first mark: not counted
    start = log.mark()
    s3.put_object(Bucket=other, Key="records/carcutter/0.json", Body=b"{}")  # another bucket: not counted
    for number in range(3):
        s3.put_object(Bucket=bucket, Key=f"records/carcutter/{number}.json", Body=b"{}")
    s3.get_object(Bucket=bucket, Key="records/carcutter/0.json")
    s3.head_object(Bucket=bucket, Key="records/carcutter/1.json")
    s3.list_objects_v2(Bucket=bucket, Prefix="records/carcutter/")
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="records/carcutter/missing.json")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "records/carcutter/2.json"}]})
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "records/carcutter/0.json"})
    assert requests.get(url, timeout=10).ok
    deadline = time.monotonic() + 5  # moto writes the line as it answers; give the last one a moment
    while log.count(start, log.mark()).total < 9 and time.monotonic() < deadline:
        time.sleep(0.05)

    counted = log.count(start, log.mark())

    assert counted.by_operation == {"PUT": 3, "GET": 2, "HEAD": 1, "LIST": 1, "DELETE (batch)": 1, "presigned GET": 1}
    assert counted.total == 9
    assert counted.by_folder == {"records": 8, "(bucket)": 1}
    assert counted.by_operation_and_folder["LIST records"] == 1
    assert counted.by_operation_and_folder["DELETE (batch) (bucket)"] == 1
    assert counted.errors == 1
