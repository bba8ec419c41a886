"""What is billed is what is recorded (stand-in, moto's S3 server and a local image server): the bytes
Car-Cutter fetches are the bytes whose identity the record carries, pictures told apart only by their query
string are two images, a claim sealed with a retired key fails only itself, and a result that is not an image
is never stored as final."""

from __future__ import annotations

import json

from tests.carcutter.test_process_images import operator, stored_records, task_context
from tests.image_server import Answer
from tests.photos import car_photo

LOOPBACK = ["127.0.0.1/32"]
SAME_DATE = (("Last-Modified", "Tue, 01 Dec 2026 08:00:00 GMT"),)


def output_bytes(s3_client, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()


def assert_records_match_the_ledger(carcutter, s3_client, bucket: str) -> None:
    charged = sum(record.credits_charged for record in stored_records(s3_client, bucket))
    assert charged == sum(carcutter.ledger()["charges"].values())


def test_query_strings_tell_pictures_apart_but_signatures_do_not(carcutter, bucket, s3_client, image_server):
    for number in (1, 2):
        image_server.routes[f"/img.aspx?id={number}"] = Answer(body=car_photo(number), headers=SAME_DATE)
    signed = "/img.aspx?X-Amz-Date=20261202T080000Z&id=1&X-Amz-Signature=0f0f&token=abc"  # the same picture re-signed
    image_server.routes[signed] = Answer(body=car_photo(1), headers=SAME_DATE)
    images = [
        {"source": image_server.url(f"/img.aspx?id={number}"), "vehicle_id": f"VEHICLE{number:010d}", "name": "front"}
        for number in (1, 2)
    ]
    results = operator(images, bucket, allowed_networks=LOOPBACK).execute(task_context())

    assert [row["status"] for row in results] == ["final", "final"]
    assert sum(carcutter.ledger()["charges"].values()) == 2  # old code: one identity, vehicle B showed A's photo
    for row, number in zip(results, (1, 2), strict=True):
        assert output_bytes(s3_client, row["outputs"]["result"]) == car_photo(number)  # fast mode: bytes unchanged
    records = stored_records(s3_client, bucket)
    assert len({record.identity for record in records}) == 2
    written = json.dumps(results) + json.dumps([record.to_dict() for record in records])
    assert "id=1" not in written and "id=2" not in written  # the query counts only as a digest

    again = [{**images[0], "source": image_server.url(signed)}]
    rerun = operator(again, bucket, allowed_networks=LOOPBACK).execute(task_context("run-2"))
    assert rerun[0]["reused"] and rerun[0]["outputs"] == results[0]["outputs"]
    assert sum(carcutter.ledger()["charges"].values()) == 2
    assert_records_match_the_ledger(carcutter, s3_client, bucket)
