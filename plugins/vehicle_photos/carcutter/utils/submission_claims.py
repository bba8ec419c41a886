"""One submission per image and options, whatever runs at the same time (shared design: "Claim before bill").

Before an image is submitted, its record is created in S3 as a claim (`vehicle_photos.image_common.records`)
holding the exact URL about to be sent (sealed); only the task that creates it submits. Whoever finds a claim
in place follows it: a settled record is reused, a claim is tracked by asking Car-Cutter about its URL. A claim
Car-Cutter does not know is looked at again in S3: given back (claim it), changed (follow the new version), or
unchanged (once due, take it over by a conditional overwrite, if it is ours or older than the lease).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from airflow.sdk.exceptions import AirflowException

from vehicle_photos.carcutter.utils.batch import CLAIMED, NEW, TIMED_OUT, BatchImage
from vehicle_photos.image_common.claims import ClaimHolder
from vehicle_photos.image_common.record_store import ImageRecordStore, RecordChangedError, StoredRecord
from vehicle_photos.image_common.records import CLAIMED as RECORD_CLAIMED
from vehicle_photos.image_common.records import ImageRecord
from vehicle_photos.image_common.sealed import seal
from vehicle_photos.image_common.urls import redact_url

PROVIDER = "carcutter"
MAX_CLAIM_ATTEMPTS = 4  # claims of one image whose submission Car-Cutter never received, before giving up

log = logging.getLogger(__name__)


class SubmissionClaims:
    """The claims of one task (`holder`) over the images of its batch, and what it does about those it finds."""

    def __init__(
        self, records: ImageRecordStore, holder: ClaimHolder, options: dict[str, Any], lease_seconds: float
    ) -> None:
        self.records = records
        self.holder = holder
        self.options = options
        self.lease_seconds = float(lease_seconds)

    def claim(self, image: BatchImage, url: str) -> None:
        """Write a claim to submit `url` for `image`: a new record, or a conditional overwrite of the claim
        being taken over. Losing the race means following the winner's record instead."""
        image.sealed_url, image.shown_url = seal(url), redact_url(url)
        image.attempts += 1
        image.charge_unconfirmed = False  # the claim we replace was never received, so never billed
        claim = image.record(RECORD_CLAIMED, self.options, **self.holder.stamp())
        if image.record_etag is None:
            stored = self.records.create(claim)
        else:
            try:
                stored = self.records.replace(_held(image, claim), claim)
            except RecordChangedError:
                stored = None
        if stored is not None:
            image.state, image.mine, image.record_etag = CLAIMED, True, stored.etag
            return
        image.attempts -= 1
        existing = self.records.get(PROVIDER, image.digest)
        if existing is None:  # given back between our write and our read: try again next round
            image.record_etag = None
            return
        self.follow(image, existing)

    def recheck_unknown(self, image: BatchImage, due: bool) -> None:
        """Car-Cutter does not know the claimed URL, so its record says what happened: given back (claim it),
        changed (a retry or another run took the claim over with a new URL: follow that), or unchanged (once
        `due`, submit it ourselves if the claim is ours or stale, by conditional overwrite)."""
        existing = self.records.get(PROVIDER, image.digest)
        if existing is None:
            image.state, image.record_etag = NEW, None
        elif existing.etag != image.record_etag:
            self.follow(image, existing)
        elif not due:
            return
        elif image.attempts >= MAX_CLAIM_ATTEMPTS:
            image.state = TIMED_OUT
            image.error = f"Car-Cutter never received it after {image.attempts} attempts; the claim stays"
        elif self.holder.may_take_over(existing.record, self.lease_seconds):
            log.warning("taking over the claim of %s: Car-Cutter never received it", image.shown_source)
            image.state = NEW

    def settle(self, image: BatchImage, record: ImageRecord) -> None:
        """Replace the claim we read with a settled record; if it changed meanwhile, write over the latest
        version unless it is settled already (then follow it)."""
        for _ in range(3):
            current = _held(image, record) if image.record_etag else self.records.get(PROVIDER, image.digest)
            if current is None:
                stored = self.records.create(record)
                if stored is not None:
                    image.record_etag = stored.etag
                    return
                continue
            if current.record.is_settled and current.etag != image.record_etag:
                self.follow(image, current)
                return
            try:
                image.record_etag = self.records.replace(current, record).etag
                return
            except RecordChangedError:
                image.record_etag = None
        raise AirflowException(f"the record of {image.shown_source} keeps changing under this task")

    def follow(self, image: BatchImage, stored: StoredRecord) -> None:
        """Take what a record found in place says (see `BatchImage.follow`)."""
        mine = self.holder.owns(stored.record)
        takeover_at = time.time() if mine else (stored.record.claimed_at or 0.0) + self.lease_seconds
        image.follow(stored.record, stored.etag, mine, takeover_at)

    def give_back(self, images: Iterable[BatchImage], reason: str, as_status: str) -> None:
        """Not submitted, so not billed: remove our claims so the next run simply tries again."""
        for image in images:
            if image.record_etag:
                self.records.delete(StoredRecord(image.record(RECORD_CLAIMED, self.options), image.record_etag))
            image.record_etag, image.mine = None, False
            image.not_sent(reason, as_status)


def _held(image: BatchImage, record: ImageRecord) -> StoredRecord:
    return StoredRecord(record, image.record_etag or "")
