"""The listings queue's messages as S3 (directly, or through an SNS topic) and moto's server send them: which
dates they bring, and what is skipped with a line saying why while the good messages of the batch still count."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote, quote_plus

from include.arrivals.messages import arrivals_by_date, listing_date_of

BUCKET = "vehicle-photos"


def notification(key: str, event: str = "ObjectCreated:Put", bucket: str = BUCKET, encode=quote_plus) -> dict:
    s3 = {"bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"}, "object": {"key": encode(key)}}
    record = {"eventSource": "aws:s3", "eventName": event, "s3": s3}
    return {"Records": [record]}


def message(body: object, message_id: str = "m") -> dict:
    return {"MessageId": message_id, "Body": body if isinstance(body, str) else json.dumps(body)}


def test_keys_encoded_as_s3_and_moto_encode_them_give_their_dates():
    s3_style = lambda key: quote(key, safe="/").replace("%20", "+")  # noqa: E731 - S3 keeps '/', spaces as '+'
    batch = [
        message(notification("listings/dt=2026-11-20/dealer one.csv")),  # moto: every '/' and '=' encoded
        message(notification("listings/dt=2026-11-20/dealer=7/export.jsonl", encode=s3_style)),
        message(notification("listings/dt=2026-11-19/b.parquet", event="ObjectCreated:CompleteMultipartUpload")),
        message(notification("listings/dt=2026-11-19/c.csv", event="ObjectCreated:Copy")),
    ]
    assert arrivals_by_date(batch, BUCKET, "listings") == {
        "2026-11-19": ["listings/dt=2026-11-19/b.parquet", "listings/dt=2026-11-19/c.csv"],
        "2026-11-20": ["listings/dt=2026-11-20/dealer one.csv", "listings/dt=2026-11-20/dealer=7/export.jsonl"],
    }


def test_a_notification_through_an_sns_topic_is_read_from_its_envelope():
    envelope = {"Type": "Notification", "TopicArn": "arn:aws:sns:eu-west-1:1:listings",
                "Message": json.dumps(notification("listings/dt=2026-11-20/a.csv"))}  # fmt: skip
    assert arrivals_by_date([message(envelope)], BUCKET, "listings") == {"2026-11-20": ["listings/dt=2026-11-20/a.csv"]}


def test_what_is_not_a_listing_arrival_is_skipped_with_a_reason_and_the_rest_still_counts(caplog):
    good = message(notification("listings/dt=2026-11-20/good.csv"), "good")
    batch = [
        message({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}, "test-event"),
        message("this is not json", "not-json"),
        message([1, 2], "a-list"),
        message({"Records": [{"eventName": "ObjectCreated:Put"}]}, "no-s3-part"),
        message({"hello": "world"}, "no-records"),
        good,
        message(notification("listings/dt=2026-11-20/gone.csv", event="ObjectRemoved:Delete"), "removed"),
        message(notification("listings/dt=2026-11-20/other.csv", bucket="someone-else"), "other-bucket"),
        message(notification("listings/2026-11-20/no-dt.csv"), "no-dt"),
        message(notification("listings/dt=2026-13-45/bad-date.csv"), "bad-date"),
        message(notification("listings/dt=2026-11-20/"), "folder"),
        message(notification("photos/dt=2026-11-20/x.jpg"), "photos"),
    ]
    with caplog.at_level(logging.INFO, logger="include.arrivals.messages"):
        assert arrivals_by_date(batch, BUCKET, "listings") == {"2026-11-20": ["listings/dt=2026-11-20/good.csv"]}
    lines = caplog.messages
    assert len(lines) == len(batch) - 1  # one line for each skipped message
    for message_id in ("not-json", "a-list", "no-s3-part", "no-records"):
        assert any(line.startswith(f"skipped message {message_id}: ") for line in lines), (message_id, lines)
    assert "skipped message not-json: the body is not JSON: 'this is not json'" in lines
    assert "skipped S3's test event for bucket vehicle-photos" in lines
    assert any("ObjectRemoved:Delete" in line and "gone.csv" in line for line in lines)
    assert any("s3://someone-else/listings/dt=2026-11-20/other.csv" in line and "reads bucket vehicle-photos" in line
               for line in lines)  # fmt: skip
    for key in ("no-dt.csv", "bad-date.csv", "listings/dt=2026-11-20/:", "photos/dt=2026-11-20/x.jpg"):
        assert any(key in line and "not a listing file under listings/dt=YYYY-MM-DD/" in line for line in lines), key


def test_the_listings_prefix_is_the_deployments():
    assert listing_date_of("incoming/listings/dt=2026-11-20/a.csv", "incoming/listings") == "2026-11-20"
    assert listing_date_of("listings/dt=2026-11-20/a.csv", "incoming/listings") is None
    assert listing_date_of("incoming/listings/dt=2026-11-20/a.csv", "incoming/listings/") == "2026-11-20"
