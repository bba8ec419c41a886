"""From the listings queue's messages to the dates whose listing files arrived.

A message is S3's event notification (JSON with `Records`), sent to the queue directly or through an SNS topic
(the notification is then the envelope's `Message`). Each record names a bucket and a URL-encoded key; a key
`<listings_prefix>/dt=YYYY-MM-DD/<file>` in the deployment's bucket is an arrival for that date. S3's
`s3:TestEvent` (sent when the notification is configured), other events, other buckets, other keys and
messages that are not S3 notifications at all are logged, one clear line each, and skipped: the good
messages of the same batch still count.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import unquote_plus

log = logging.getLogger(__name__)

TEST_EVENT = "s3:TestEvent"
CREATED_EVENT_PREFIX = "ObjectCreated:"
_SHOWN_BODY_CHARS = 200


class NotAnS3Notification(ValueError):
    """A message whose body is not an S3 event notification."""


@dataclass(frozen=True)
class ArrivedFile:
    bucket: str
    key: str
    listing_date: str


def arrivals_by_date(messages: Iterable[dict[str, Any]], bucket: str, listings_prefix: str) -> dict[str, list[str]]:
    """The arrived listing files' keys by date (YYYY-MM-DD), in date order, from SQS messages (`Body`)."""
    found: dict[str, list[str]] = {}
    for message in messages:
        message_id = message.get("MessageId", "?")
        try:
            files = files_in_message(message.get("Body"), listings_prefix)
        except NotAnS3Notification as problem:
            log.warning("skipped message %s: %s", message_id, problem)
            continue
        for arrived in files:
            if arrived.bucket != bucket:
                log.warning(
                    "skipped s3://%s/%s (message %s): the pipeline reads bucket %s (Variable vehicle_photos_bucket)",
                    arrived.bucket, arrived.key, message_id, bucket,
                )  # fmt: skip
                continue
            found.setdefault(arrived.listing_date, []).append(arrived.key)
    return dict(sorted(found.items()))


def files_in_message(body: Any, listings_prefix: str) -> list[ArrivedFile]:
    """The listing files a message's body announces; [] for a test event or records of other keys or events."""
    notification = _json_object(body, "body")
    if notification.get("Type") == "Notification" and "Message" in notification:  # through an SNS topic
        notification = _json_object(notification["Message"], "SNS envelope's Message")
    if notification.get("Event") == TEST_EVENT:
        log.info("skipped S3's test event for bucket %s", notification.get("Bucket"))
        return []
    records = notification.get("Records")
    if not isinstance(records, list):
        raise NotAnS3Notification(f"no Records in {_shown(body)}")
    return [arrived for record in records if (arrived := _arrived_file(record, listings_prefix))]


def _arrived_file(record: Any, listings_prefix: str) -> ArrivedFile | None:
    try:
        event, bucket, encoded_key = record["eventName"], record["s3"]["bucket"]["name"], record["s3"]["object"]["key"]
    except (KeyError, TypeError) as missing:
        raise NotAnS3Notification(f"a record without {missing}: {_shown(record)}") from None
    key = unquote_plus(encoded_key)
    if not str(event).startswith(CREATED_EVENT_PREFIX):
        log.info("skipped %s of s3://%s/%s: not an ObjectCreated event", event, bucket, key)
        return None
    listing_date = listing_date_of(key, listings_prefix)
    if listing_date is None:
        log.warning("skipped s3://%s/%s: not a listing file under %s/dt=YYYY-MM-DD/", bucket, key, listings_prefix)
        return None
    return ArrivedFile(bucket=bucket, key=key, listing_date=listing_date)


def listing_date_of(key: str, listings_prefix: str) -> str | None:
    """The date of a listing file's key `<listings_prefix>/dt=YYYY-MM-DD/<file>`, else None."""
    match = re.fullmatch(rf"{re.escape(listings_prefix.strip('/'))}/dt=(\d{{4}}-\d{{2}}-\d{{2}})/(.*[^/])", key)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1)).isoformat()
    except ValueError:
        return None


def _json_object(text: Any, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str | bytes) else text
    except ValueError:
        raise NotAnS3Notification(f"the {what} is not JSON: {_shown(text)}") from None
    if not isinstance(value, dict):
        raise NotAnS3Notification(f"the {what} is not a JSON object: {_shown(text)}")
    return value


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return repr(text[:_SHOWN_BODY_CHARS] + ("..." if len(text) > _SHOWN_BODY_CHARS else ""))
